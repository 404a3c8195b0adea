/**
 * The control plane's stable error codes (the operator API's), in the same body shape as the data plane's
 * (`{ "error": { "code", "message", "details"? } }`, see proxy/errors.ts). Messages never carry secrets.
 */

export const controlErrors = {
  // Requests.
  VALIDATION_FAILED: { status: 400, message: "the request does not match its schema" },
  BAD_REQUEST: { status: 400, message: "malformed request" },
  BODY_TOO_LARGE: { status: 413, message: "request body too large" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "send application/json" },
  // Operator API keys and roles.
  UNAUTHENTICATED: { status: 401, message: "missing, malformed, unknown or revoked operator API key" },
  ROLE_FORBIDDEN: { status: 403, message: "this operator key's role may not do that" },
  // Sign-In with Ethereum.
  SIWE_MALFORMED: { status: 400, message: "not an EIP-4361 message with the fields the proxy requires" },
  SIWE_WRONG_DOMAIN: { status: 401, message: "the message was written for another domain" },
  SIWE_WRONG_URI: { status: 401, message: "the message was written for another URI" },
  SIWE_WRONG_CHAIN: { status: 401, message: "the message names another chain than the proxy's deployment" },
  SIWE_EXPIRED: { status: 401, message: "the message has expired" },
  SIWE_NOT_YET_VALID: { status: 401, message: "the message is not valid yet" },
  SIWE_LIFETIME_TOO_LONG: { status: 401, message: "the message is valid for longer than the proxy allows" },
  SIWE_INVALID_SIGNATURE: { status: 401, message: "the signature does not match the message's address" },
  SIWE_NONCE_UNKNOWN: { status: 401, message: "the nonce was not issued by this proxy" },
  SIWE_NONCE_EXPIRED: { status: 401, message: "the nonce has expired; ask for a new one" },
  SIWE_NONCE_USED: { status: 401, message: "the nonce was already used (replay)" },
  TOO_MANY_NONCES: { status: 429, message: "too many outstanding sign-in nonces; try again shortly" },
  // Operators' resources. Another operator's agent answers AGENT_NOT_FOUND: existence is not revealed.
  AGENT_NOT_FOUND: { status: 404, message: "no such agent linked by this operator" },
  AGENT_ALREADY_LINKED: { status: 409, message: "the agent is already linked" },
  AGENT_NOT_ONCHAIN: { status: 404, message: "no Killcord agent has this agentId on the proxy's chain" },
  NOT_AGENT_OPERATOR: { status: 403, message: "the operator's wallet is not the agent's operator onchain" },
  AGENT_INACTIVE: { status: 409, message: "the agent is not active onchain" },
  CREDENTIAL_NOT_FOUND: { status: 404, message: "no such credential for this agent" },
  PROVIDER_NOT_FOUND: { status: 404, message: "no such provider connection for this agent" },
  PROVIDER_EXISTS: { status: 409, message: "the agent already has a provider connection with this name" },
  GUARDRAIL_NOT_FOUND: { status: 404, message: "no guardrail for this scope" },
  KEY_NOT_FOUND: { status: 404, message: "no such operator API key" },
  // Dependencies. Writes are refused rather than half-applied.
  REDIS_UNAVAILABLE: { status: 503, message: "the gate's state store (Redis) is unreachable; nothing was changed" },
  CHAIN_UNAVAILABLE: { status: 503, message: "the chain (or its Killcord deployment) is unreachable" },
  DATABASE_UNAVAILABLE: { status: 503, message: "the durable store is unreachable" },
  INTERNAL_ERROR: { status: 500, message: "internal error" },
} as const satisfies Record<string, { status: number; message: string }>;

export type ControlErrorCode = keyof typeof controlErrors;

/** An operator API error: a stable code, its HTTP status, optional details, and the cause (never sent). */
export class ControlError extends Error {
  override name = "ControlError";
  readonly code: ControlErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ControlErrorCode, options?: { message?: string; details?: Record<string, unknown>; cause?: unknown }) {
    super(options?.message ?? controlErrors[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }

  get status(): number {
    return controlErrors[this.code].status;
  }

  toJSON(): { error: { code: ControlErrorCode; message: string; details?: Record<string, unknown> } } {
    return {
      error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) },
    };
  }
}
