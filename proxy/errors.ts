/**
 * The data plane's stable error codes: one table of code -> HTTP status, short message and whether a retry
 * can help (fastify's FST_ERR_* style). Every denial and failure a client sees is one of these, in the body
 * `{ "error": { "code": "...", "message": "..." } }`. Messages never carry secrets.
 */

export const proxyErrors = {
  // Authentication (no Redis needed to answer these).
  INVALID_CREDENTIAL: { status: 401, retryable: false, message: "missing, malformed or unknown agent credential" },
  CREDENTIAL_REVOKED: { status: 401, retryable: false, message: "the agent credential was revoked" },
  // Kills and suspensions (deny key, local deny set, kill stream).
  AGENT_KILLED: { status: 403, retryable: false, message: "the agent was killed" },
  AGENT_SUSPENDED: { status: 403, retryable: false, message: "the agent is suspended" },
  ATTESTATION_REVOKED: { status: 403, retryable: false, message: "the agent's attestation was revoked onchain" },
  ATTESTATION_EXPIRED: {
    status: 403,
    retryable: false,
    message: "the agent's attestation (or a delegating ancestor's) has expired",
  },
  // Operator switches.
  AGENT_DISABLED: { status: 403, retryable: false, message: "the agent is disabled by its operator (Tier 2)" },
  PROVIDER_DISABLED: { status: 403, retryable: false, message: "this provider is disabled for the agent (Tier 1)" },
  // Guardrails.
  RATE_LIMITED: { status: 429, retryable: true, message: "request rate limit reached" },
  BUDGET_EXCEEDED: { status: 429, retryable: true, message: "daily spend limit reached" },
  // The gate itself.
  GATE_UNAVAILABLE: { status: 503, retryable: true, message: "the gate cannot reach its state store; request denied" },
  // Routing and upstream.
  PROVIDER_NOT_FOUND: { status: 404, retryable: false, message: "no such provider connection for this agent" },
  NOT_FOUND: { status: 404, retryable: false, message: "no such route" },
  REQUEST_TOO_LARGE: { status: 413, retryable: false, message: "request body too large" },
  INVALID_REQUEST: { status: 400, retryable: false, message: "malformed request" },
  UPSTREAM_UNAVAILABLE: { status: 502, retryable: true, message: "the upstream provider could not be reached" },
  UPSTREAM_TIMEOUT: { status: 504, retryable: true, message: "the upstream provider did not answer in time" },
  SHUTTING_DOWN: { status: 503, retryable: true, message: "the proxy is shutting down" },
  INTERNAL_ERROR: { status: 500, retryable: true, message: "internal error" },
} as const satisfies Record<string, { status: number; retryable: boolean; message: string }>;

export type ProxyErrorCode = keyof typeof proxyErrors;

/** The codes a gate verdict can deny with (what the Lua script and the local deny set return). */
export const gateDenialCodes = [
  "INVALID_CREDENTIAL",
  "CREDENTIAL_REVOKED",
  "AGENT_KILLED",
  "AGENT_SUSPENDED",
  "ATTESTATION_REVOKED",
  "ATTESTATION_EXPIRED",
  "AGENT_DISABLED",
  "PROVIDER_DISABLED",
  "RATE_LIMITED",
  "BUDGET_EXCEEDED",
  "GATE_UNAVAILABLE",
] as const satisfies readonly ProxyErrorCode[];

export type GateDenialCode = (typeof gateDenialCodes)[number];

export function isProxyErrorCode(code: unknown): code is ProxyErrorCode {
  return typeof code === "string" && Object.hasOwn(proxyErrors, code);
}

/** Base error of the data plane: a stable code, its HTTP status, and the underlying cause (viem style). */
export class ProxyError extends Error {
  override name = "ProxyError";
  readonly code: ProxyErrorCode;
  /** Extra headers for the response (e.g. Retry-After). */
  readonly headers: Record<string, string> | undefined;

  constructor(code: ProxyErrorCode, options?: { message?: string; cause?: unknown; headers?: Record<string, string> }) {
    super(options?.message ?? proxyErrors[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.headers = options?.headers;
  }

  get status(): number {
    return proxyErrors[this.code].status;
  }

  /** Whether the same request may succeed later (the cascade and clients use this to decide on retries). */
  get retryable(): boolean {
    return proxyErrors[this.code].retryable;
  }
}

/** The JSON body of an error response. Serialized by hand: it is on the denial hot path. */
export function errorBody(code: ProxyErrorCode, message: string = proxyErrors[code].message): string {
  return `{"error":{"code":"${code}","message":${JSON.stringify(message)}}}`;
}
