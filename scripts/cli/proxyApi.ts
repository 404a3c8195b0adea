/**
 * The CLI's client for the proxy's operator API (`/v1`): requests with the operator key, errors carrying
 * the API's stable code, and the Sign-In with Ethereum exchange (`killcord login`).
 */
import type { Account, Address, Hex } from "viem";
import { createSiweMessage, type SiweMessage } from "viem/siwe";
import { CliError, type CliErrorCode } from "../lib/errors.ts";

/** An error answered by the proxy: the CLI's nearest code (exit status) plus the API's own code and status. */
export class ProxyApiError extends CliError {
  readonly apiCode: string;
  readonly status: number;

  constructor(status: number, apiCode: string, message: string, details?: Record<string, unknown>) {
    super(cliCodeFor(status), `${message} [${apiCode}]`, { details: { apiCode, status, ...(details ?? {}) } });
    this.apiCode = apiCode;
    this.status = status;
  }
}

function cliCodeFor(status: number): CliErrorCode {
  if (status === 400 || status === 413 || status === 415) return "INVALID_ARGUMENT";
  if (status === 401 || status === 403) return "NOT_AUTHORIZED";
  if (status === 404) return "UNKNOWN_AGENT";
  if (status === 409) return "CONTRACT_REVERT";
  return "RPC_UNREACHABLE";
}

/** The proxy's base URL from KILLCORD_PROXY_URL. */
export function proxyUrlFrom(env: NodeJS.ProcessEnv): string {
  const raw = env.KILLCORD_PROXY_URL;
  if (raw === undefined || raw === "") throw new CliError("INVALID_ARGUMENT", "set KILLCORD_PROXY_URL to the proxy's URL");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError("INVALID_ARGUMENT", `KILLCORD_PROXY_URL is not a URL: ${raw}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new CliError("INVALID_ARGUMENT", "KILLCORD_PROXY_URL must be http(s)");
  return url.toString().replace(/\/+$/, "");
}

/** The operator API key from KILLCORD_OPERATOR_KEY (never from argv: argv is visible to every local user). */
export function operatorKeyFrom(env: NodeJS.ProcessEnv): string {
  const key = env.KILLCORD_OPERATOR_KEY;
  if (key === undefined || key === "") {
    throw new CliError("MISSING_WALLET", "set KILLCORD_OPERATOR_KEY to an operator API key (from `killcord login`)");
  }
  return key;
}

/** One operator API call; resolves the JSON body of a 2xx answer, throws ProxyApiError otherwise. */
export async function proxyRequest<T = Record<string, any>>(
  proxyUrl: string,
  operatorKey: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (operatorKey !== undefined) headers.authorization = `Bearer ${operatorKey}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(`${proxyUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (cause) {
    throw new CliError("RPC_UNREACHABLE", `cannot reach the proxy at ${proxyUrl} (is it running?)`, { cause });
  }
  const text = await response.text();
  let json: any;
  try {
    json = text === "" ? {} : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (response.ok && json !== undefined) return json as T;
  const error = json?.error;
  if (error !== undefined && typeof error.code === "string") {
    throw new ProxyApiError(response.status, error.code, String(error.message ?? error.code), error.details);
  }
  throw new ProxyApiError(response.status, "UNEXPECTED_RESPONSE", `the proxy answered ${response.status} ${method} ${path}`);
}

export interface NonceResponse {
  nonce: string;
  domain: string;
  uri: string;
  chainId: number;
  version: "1";
  statement: string;
  issuedAt: string;
  expiresAt: string;
}

export interface LoginResult {
  operator: string;
  keyId: string;
  role: "owner";
  operatorKey: string;
}

/** The EIP-4361 message answering the proxy's challenge, for `address` (fields overridable, e.g. in tests). */
export function siweMessage(challenge: NonceResponse, address: Address, overrides: Partial<SiweMessage> = {}): string {
  return createSiweMessage({
    domain: challenge.domain,
    address,
    statement: challenge.statement,
    uri: challenge.uri,
    version: "1",
    chainId: challenge.chainId,
    nonce: challenge.nonce,
    issuedAt: new Date(),
    expirationTime: new Date(challenge.expiresAt),
    ...overrides,
  });
}

/**
 * Signs in with the wallet: fetches a nonce, signs an EIP-4361 message for the proxy's domain, URI and
 * chain, and exchanges it for an owner API key. Refuses to sign for a domain other than the URL it talks to
 * (a proxy must not be able to collect a login valid elsewhere) and, when given, another chain.
 */
export async function signIn(
  proxyUrl: string,
  account: Account,
  options: { expectedChainId?: number } = {},
): Promise<LoginResult> {
  if (account.signMessage === undefined) throw new CliError("MISSING_WALLET", "this account cannot sign messages");
  const challenge = await proxyRequest<NonceResponse>(proxyUrl, undefined, "GET", "/v1/auth/nonce");
  const host = new URL(proxyUrl).host;
  if (challenge.domain !== host || new URL(challenge.uri).host !== host) {
    throw new CliError(
      "INVALID_ARGUMENT",
      `the proxy at ${proxyUrl} asks to sign in for ${challenge.domain}: set KILLCORD_PROXY_URL to the proxy's public URL`,
    );
  }
  if (options.expectedChainId !== undefined && challenge.chainId !== options.expectedChainId) {
    throw new CliError(
      "WRONG_CHAIN",
      `the proxy serves chain ${challenge.chainId}, but chain ${options.expectedChainId} was expected`,
    );
  }
  const message = siweMessage(challenge, account.address);
  const signature: Hex = await account.signMessage({ message });
  return await proxyRequest<LoginResult>(proxyUrl, undefined, "POST", "/v1/auth/login", { message, signature });
}
