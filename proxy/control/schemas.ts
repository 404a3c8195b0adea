/**
 * Every operator API input, as a zod schema. Routes carry the JSON Schema zod derives (so /docs describes
 * them) and the plugin's validator compiler maps each JSON Schema back to its zod schema, so what is
 * documented is exactly what is enforced, and failures answer VALIDATION_FAILED with the issues (never the
 * values: an API key in a bad request is not echoed).
 */
import type { FastifySchemaCompiler } from "fastify";
import { z } from "zod";
import { ControlError } from "./errors.ts";

const zodOf = new WeakMap<object, z.ZodType>();

/** The JSON Schema (OpenAPI 3.0 flavour) of a zod schema, registered for validation by `zodValidator`. */
export function schemaOf(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { target: "openapi-3.0", io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  delete json.$schema;
  zodOf.set(json, schema);
  return json;
}

/** Validates with the zod schema a JSON Schema came from; refuses to compile a schema it does not know. */
export const zodValidator: FastifySchemaCompiler<any> = ({ schema, httpPart }) => {
  const zod = zodOf.get(schema as object);
  if (zod === undefined) throw new Error("control-plane route schemas must come from schemaOf()");
  return (data: unknown) => {
    // A request without a body arrives as null; optional bodies parse it as absent.
    const result = zod.safeParse(httpPart === "body" && data === null ? undefined : data);
    if (result.success) return { value: result.data };
    return {
      error: new ControlError("VALIDATION_FAILED", {
        message: `invalid ${httpPart ?? "input"}: ${result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
        details: { part: httpPart, issues: result.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })) },
      }),
    };
  };
};

export const agentId = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "must be 32 bytes of 0x-prefixed hex")
  .transform((v) => v.toLowerCase())
  .describe("the agent's onchain agentId (bytes32)");

/**
 * Provider connection names appear in proxy URLs (`/<name>/...`) and Redis field names, so they are short
 * lowercase slugs, and never one of the proxy's own top-level paths.
 */
export const reservedProviderNames = ["v1", "docs", "metrics", "healthz", "readyz", "runtime", "dashboard", "favicon.ico"];
export const providerName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, "must be 1-32 of a-z, 0-9, _ and -, starting with a letter or digit")
  .refine((v) => !reservedProviderNames.includes(v), "is reserved for the proxy's own routes")
  .describe("provider connection name, used in proxy URLs: /<name>/<path>");

export const baseUrl = z
  .url({ protocol: /^https?$/ })
  .max(2048)
  .refine((v) => {
    const url = new URL(v);
    return url.username === "" && url.password === "" && url.search === "" && url.hash === "";
  }, "must not carry credentials, a query or a fragment (the provider key goes in apiKey)")
  .transform((v) => v.replace(/\/+$/, ""))
  .describe("upstream base URL, e.g. https://api.openai.com/v1; the proxy appends the request's path");

// The provider key goes into a header upstream: printable ASCII only, so no header can be injected.
export const providerApiKey = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces")
  .describe("the provider's API key; stored encrypted, never returned");

export const providerStyle = z
  .enum(["openai", "anthropic"])
  .describe("how the upstream takes its key: openai = Authorization: Bearer, anthropic = x-api-key");

const label = z.string().trim().min(1).max(100);
const reason = z.string().trim().min(1).max(500).describe("why (recorded and sent with the event)");

export const agentParams = z.object({ agentId });
export const credentialParams = z.object({ agentId, credentialId: z.string().regex(/^cred_[0-9a-f]{16}$/) });
export const providerParams = z.object({ agentId, name: providerName });
export const keyParams = z.object({ keyId: z.string().regex(/^[0-9a-f]{16}$/) });

export const loginBody = z
  .object({
    message: z.string().min(1).max(4096).describe("the EIP-4361 message, as signed"),
    signature: z
      .string()
      .regex(/^0x[0-9a-fA-F]+$/, "must be 0x-prefixed hex")
      .max(20_000)
      .describe("EIP-191 personal_sign signature of the message"),
  })
  .strict();

export const createKeyBody = z
  .object({ role: z.enum(["admin", "viewer"]).describe("admin changes agents; viewer reads"), label: label.optional() })
  .strict();

export const linkAgentBody = z.object({ agentId, name: label.optional().describe("display name") }).strict();

export const issueCredentialBody = z.object({ label: label.optional() }).strict().optional();

export const enabledBody = z.object({ enabled: z.boolean(), reason: reason.optional() }).strict();

export const addProviderBody = z
  .object({
    name: providerName,
    baseUrl,
    apiKey: providerApiKey,
    style: providerStyle.default("openai"),
    enabled: z.boolean().default(true).describe("Tier 1 switch"),
  })
  .strict();

export const updateProviderBody = z
  .object({ baseUrl: baseUrl.optional(), apiKey: providerApiKey.optional(), style: providerStyle.optional() })
  .strict()
  .refine((v) => Object.keys(v).length > 0, "give at least one of baseUrl, apiKey, style");

const limit = z.number().int().min(1).max(1_000_000_000);

export const guardrailBody = z
  .object({
    provider: providerName.optional().describe("limit only this provider connection; absent = every provider"),
    rpm: limit.optional().describe("requests per minute"),
    rpd: limit.optional().describe("requests per UTC day"),
    usdPerDay: z.number().positive().max(1_000_000_000).optional().describe("spend per UTC day, in USD"),
    action: z
      .enum(["tier1", "tier2"])
      .optional()
      .describe("what a breach trips: tier1 (this provider) or tier2 (the agent); default tier1 with a provider, else tier2"),
  })
  .strict()
  .refine(
    (v) => v.rpm !== undefined || v.rpd !== undefined || v.usdPerDay !== undefined,
    "give at least one of rpm, rpd, usdPerDay",
  );

export const guardrailQuery = z.object({ provider: providerName.optional() }).strict();
