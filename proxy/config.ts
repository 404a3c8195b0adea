/**
 * The proxy's configuration: one typed object, validated at start and frozen. Every option comes from the
 * environment (secrets only from there, never from argv, never logged); each carries its unit and default.
 * Both halves of the proxy (data plane and control plane) read this one object.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { CliError } from "../scripts/lib/errors.ts";
import { parsePort } from "../scripts/lib/port.ts";

/** USD per one million tokens, for one model. */
export interface ModelPrice {
  /** USD per 1,000,000 input (prompt) tokens. */
  input: number;
  /** USD per 1,000,000 output (completion) tokens. */
  output: number;
}

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface ProxyConfig {
  /** Interface to listen on. KILLCORD_PROXY_HOST, default "127.0.0.1". */
  readonly host: string;
  /** TCP port to listen on (0 = any free port). KILLCORD_PROXY_PORT, default 8787. */
  readonly port: number;
  /** Redis holding the gate's state (deny keys, flags, credentials, counters, streams). KILLCORD_REDIS_URL, else REDIS_URL (the indexer's name for the same Redis), default "redis://127.0.0.1:6379". */
  readonly redisUrl: string;
  /** Postgres connection string; when set it replaces the embedded PGlite. DATABASE_URL, default unset. */
  readonly databaseUrl?: string;
  /** Folder of the embedded PGlite database (and the local-stack master key). KILLCORD_DATA_DIR, default ".killcord/data" (resolved to an absolute path). */
  readonly dataDir: string;
  /**
   * 32-byte key that encrypts provider keys at rest. KILLCORD_MASTER_KEY (64 hex chars), required unless
   * `localStack`, where one is generated once and kept in `<dataDir>/master.key` (mode 0600) with a warning.
   */
  readonly masterKey: Buffer;
  /** True when running the local development stack (`npm start`). KILLCORD_LOCAL_STACK=1, default false. */
  readonly localStack: boolean;
  /** Set when the master key was generated or read from dataDir (local stack only): log a warning at start. */
  readonly masterKeyGenerated: boolean;
  /** JSON-RPC URL of the chain holding the agents' attestations. KILLCORD_RPC_URL, default "http://127.0.0.1:8545". */
  readonly rpcUrl: string;
  /** Folder of `deployments/<chainId>.json`. KILLCORD_DEPLOYMENTS_DIR, default unset (the package's deployments/). */
  readonly deploymentsDir?: string;
  /** Expected chain id; a mismatch refuses to start. KILLCORD_CHAIN_ID, default unset (whatever the RPC says). */
  readonly chainId?: number;
  /** Deadline of the gate's Redis round trip (and every proxy Redis command), in milliseconds; past it the gate answers GATE_UNAVAILABLE. KILLCORD_GATE_TIMEOUT_MS, default 1000. */
  readonly gateTimeoutMs: number;
  /** When Redis is unreachable, let requests through instead of 503 GATE_UNAVAILABLE. KILLCORD_GATE_FAIL_OPEN=1, default false (fail closed). */
  readonly failOpen: boolean;
  /** The proxy's public base URL (SIWE domain and uri come from it). KILLCORD_PUBLIC_URL, default "http://<host>:<port>". */
  readonly publicUrl: string;
  /** Lifetime of a Sign-In with Ethereum nonce/message, in seconds. KILLCORD_SIWE_TTL_SECONDS, default 300. */
  readonly siweTtlSeconds: number;
  /** TTL of a suspension deny key, in seconds. KILLCORD_SUSPEND_TTL_SECONDS, default 86400 (24 h). */
  readonly suspendTtlSeconds: number;
  /**
   * Model -> USD per 1M input/output tokens, for spend guardrails. Default table below, merged with the
   * JSON object in KILLCORD_PRICE_TABLE (e.g. `{"my-model":{"input":1,"output":2}}`). A model not in the
   * table is priced by its longest matching prefix, else by the "*" entry (default: the priciest known).
   */
  readonly priceTable: Readonly<Record<string, Readonly<ModelPrice>>>;
  /** Upstream headers timeout and body idle timeout, in milliseconds. KILLCORD_UPSTREAM_TIMEOUT_MS, default 300000 (5 min; LLM calls are slow). */
  readonly upstreamTimeoutMs: number;
  /** How often metered spend is written to Redis, in milliseconds (batched per agent; spend lands at most this late). KILLCORD_METER_FLUSH_MS, default 100. */
  readonly meterFlushMs: number;
  /** Keep-alive connections per upstream origin. KILLCORD_UPSTREAM_CONNECTIONS, default 128. */
  readonly upstreamConnections: number;
  /** How long graceful shutdown waits for in-flight requests and streams, in milliseconds. KILLCORD_SHUTDOWN_GRACE_MS, default 10000. */
  readonly shutdownGraceMs: number;
  /** Largest request body the proxy forwards, in bytes. KILLCORD_MAX_BODY_BYTES, default 10485760 (10 MiB). */
  readonly maxBodyBytes: number;
  /** Log level (pino). KILLCORD_LOG_LEVEL, default "info". */
  readonly logLevel: LogLevel;
}

/** Default prices (USD per 1M tokens), public list prices; override or extend with KILLCORD_PRICE_TABLE. */
export const defaultPriceTable: Record<string, ModelPrice> = {
  "gpt-4o": { input: 2.5, output: 10 },
  "gpt-4o-mini": { input: 0.15, output: 0.6 },
  "gpt-4.1": { input: 2, output: 8 },
  "gpt-4.1-mini": { input: 0.4, output: 1.6 },
  "gpt-4.1-nano": { input: 0.1, output: 0.4 },
  o3: { input: 2, output: 8 },
  "o4-mini": { input: 1.1, output: 4.4 },
  "claude-opus-4": { input: 15, output: 75 },
  "claude-sonnet-4": { input: 3, output: 15 },
  "claude-3-5-haiku": { input: 0.8, output: 4 },
  // Unknown models are priced high on purpose: a budget should trip early rather than never.
  "*": { input: 15, output: 75 },
};

const priceSchema = z.object({ input: z.number().nonnegative().finite(), output: z.number().nonnegative().finite() }).strict();

const flag = z
  .enum(["0", "1", "true", "false", ""])
  .optional()
  .transform((v) => v === "1" || v === "true");

const int = (min: number, max: number, fallback: number) =>
  z
    .string()
    .regex(/^[0-9]+$/, "must be a whole number")
    .optional()
    .transform((v) => (v === undefined ? fallback : Number(v)))
    .pipe(z.number().int().min(min).max(max));

const envSchema = z.object({
  KILLCORD_PROXY_HOST: z.string().min(1).default("127.0.0.1"),
  KILLCORD_PROXY_PORT: int(0, 65_535, 8787),
  KILLCORD_REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  KILLCORD_DATA_DIR: z.string().min(1).default(".killcord/data"),
  KILLCORD_MASTER_KEY: z
    .string()
    .regex(/^(0x)?[0-9a-fA-F]{64}$/, "must be 32 bytes of hex (64 characters)")
    .optional(),
  KILLCORD_LOCAL_STACK: flag,
  KILLCORD_RPC_URL: z.url({ protocol: /^(https?|wss?)$/ }).default("http://127.0.0.1:8545"),
  KILLCORD_DEPLOYMENTS_DIR: z.string().min(1).optional(),
  KILLCORD_CHAIN_ID: z
    .string()
    .regex(/^[0-9]+$/, "must be a number")
    .optional()
    .transform((v) => (v === undefined ? undefined : Number(v))),
  KILLCORD_GATE_FAIL_OPEN: flag,
  KILLCORD_GATE_TIMEOUT_MS: int(10, 60_000, 1000),
  KILLCORD_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  KILLCORD_SIWE_TTL_SECONDS: int(30, 86_400, 300),
  KILLCORD_SUSPEND_TTL_SECONDS: int(1, 365 * 86_400, 86_400),
  KILLCORD_PRICE_TABLE: z.string().optional(),
  KILLCORD_UPSTREAM_TIMEOUT_MS: int(100, 3_600_000, 300_000),
  KILLCORD_UPSTREAM_CONNECTIONS: int(1, 10_000, 128),
  KILLCORD_METER_FLUSH_MS: int(1, 10_000, 100),
  KILLCORD_SHUTDOWN_GRACE_MS: int(0, 600_000, 10_000),
  KILLCORD_MAX_BODY_BYTES: int(1024, 1024 * 1024 * 1024, 10 * 1024 * 1024),
  KILLCORD_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

/** A configuration problem found at start: names the variable, never echoes a secret's value. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** zod's issues on one line, each naming where it is: `KILLCORD_X: must be ...; KILLCORD_Y: ...`. */
function oneLine(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.map(String).join(".") || "(value)"}: ${issue.message}`).join("; ");
}

function parsePriceTable(raw: string | undefined): Record<string, ModelPrice> {
  if (raw === undefined || raw.trim() === "") return { ...defaultPriceTable };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError("KILLCORD_PRICE_TABLE is not JSON");
  }
  const result = z.record(z.string().min(1), priceSchema).safeParse(parsed);
  if (!result.success) {
    throw new ConfigError(`KILLCORD_PRICE_TABLE: ${oneLine(result.error)}`);
  }
  return { ...defaultPriceTable, ...result.data };
}

/** Reads the local stack's master key from dataDir, creating it (0600) on first use. */
function localMasterKey(dataDir: string): Buffer {
  const path = join(dataDir, "master.key");
  if (existsSync(path)) {
    const hex = readFileSync(path, "utf8").trim();
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new ConfigError(`${path} does not hold a 32-byte hex key`);
    return Buffer.from(hex, "hex");
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  writeFileSync(path, `${key.toString("hex")}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(path, 0o600);
  return key;
}

/**
 * Validates the environment into a frozen ProxyConfig. Throws ConfigError naming every bad variable (but
 * never a secret's value). Refuses to run without KILLCORD_MASTER_KEY outside the local stack.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ProxyConfig {
  // Empty strings mean "unset" (shell `export X=` is common); treat them like absent variables.
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== "") cleaned[k] = v;
  const result = envSchema.safeParse(cleaned);
  if (!result.success) {
    // Issues name the path and the rule; zod does not include the input value in its messages.
    throw new ConfigError(`invalid proxy configuration: ${oneLine(result.error)}`);
  }
  const e = result.data;
  const dataDir = isAbsolute(e.KILLCORD_DATA_DIR) ? e.KILLCORD_DATA_DIR : resolve(e.KILLCORD_DATA_DIR);
  let masterKey: Buffer;
  let masterKeyGenerated = false;
  if (e.KILLCORD_MASTER_KEY !== undefined) {
    masterKey = Buffer.from(e.KILLCORD_MASTER_KEY.replace(/^0x/, ""), "hex");
  } else if (e.KILLCORD_LOCAL_STACK) {
    masterKey = localMasterKey(dataDir);
    masterKeyGenerated = true;
  } else {
    throw new ConfigError(
      "KILLCORD_MASTER_KEY is required (32 bytes of hex, e.g. `openssl rand -hex 32`); " +
        "only the local stack (KILLCORD_LOCAL_STACK=1) may generate one",
    );
  }
  const publicUrl = (e.KILLCORD_PUBLIC_URL ?? `http://${e.KILLCORD_PROXY_HOST}:${e.KILLCORD_PROXY_PORT}`).replace(/\/+$/, "");
  const config: ProxyConfig = {
    host: e.KILLCORD_PROXY_HOST,
    port: e.KILLCORD_PROXY_PORT,
    redisUrl: e.KILLCORD_REDIS_URL ?? e.REDIS_URL ?? "redis://127.0.0.1:6379",
    databaseUrl: e.DATABASE_URL,
    dataDir,
    masterKey,
    localStack: e.KILLCORD_LOCAL_STACK,
    masterKeyGenerated,
    rpcUrl: e.KILLCORD_RPC_URL,
    deploymentsDir: e.KILLCORD_DEPLOYMENTS_DIR,
    chainId: e.KILLCORD_CHAIN_ID,
    failOpen: e.KILLCORD_GATE_FAIL_OPEN,
    gateTimeoutMs: e.KILLCORD_GATE_TIMEOUT_MS,
    publicUrl,
    siweTtlSeconds: e.KILLCORD_SIWE_TTL_SECONDS,
    suspendTtlSeconds: e.KILLCORD_SUSPEND_TTL_SECONDS,
    priceTable: Object.freeze(
      Object.fromEntries(Object.entries(parsePriceTable(e.KILLCORD_PRICE_TABLE)).map(([m, p]) => [m, Object.freeze({ ...p })])),
    ),
    upstreamTimeoutMs: e.KILLCORD_UPSTREAM_TIMEOUT_MS,
    upstreamConnections: e.KILLCORD_UPSTREAM_CONNECTIONS,
    meterFlushMs: e.KILLCORD_METER_FLUSH_MS,
    shutdownGraceMs: e.KILLCORD_SHUTDOWN_GRACE_MS,
    maxBodyBytes: e.KILLCORD_MAX_BODY_BYTES,
    logLevel: e.KILLCORD_LOG_LEVEL,
  };
  return Object.freeze(config);
}

/** The config with secrets replaced, for logs and `/readyz` detail. */
export function redactedConfig(config: ProxyConfig): Record<string, unknown> {
  const redactUrl = (url: string | undefined) => (url === undefined ? undefined : url.replace(/\/\/[^@/]*@/, "//***@"));
  return {
    ...config,
    masterKey: "***",
    redisUrl: redactUrl(config.redisUrl),
    databaseUrl: redactUrl(config.databaseUrl),
    priceTable: `${Object.keys(config.priceTable).length} models`,
  };
}

/**
 * The configuration a command line asks for: the environment, with `--port P` (when given) overriding
 * KILLCORD_PROXY_PORT. A bad setting is the CLI's INVALID_ARGUMENT (exit code 2), as `killcord proxy` and
 * proxy/main.ts report it. Returns the environment too: the launcher hands it to the proxy process.
 */
export function configForCommand(
  env: NodeJS.ProcessEnv,
  port: string | undefined,
): { env: NodeJS.ProcessEnv; config: ProxyConfig } {
  const withPort = port === undefined ? env : { ...env, KILLCORD_PROXY_PORT: String(parsePort(port, 8787)) };
  try {
    return { env: withPort, config: loadConfig(withPort) };
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError("INVALID_ARGUMENT", error.message);
    throw error;
  }
}
