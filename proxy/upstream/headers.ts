/**
 * Header rules between the agent, the proxy and the upstream provider. The agent's credential headers are
 * dropped and the provider key is set in the provider's style; hop-by-hop headers never cross; the upstream
 * is asked for an uncompressed body so the usage report can be read as it passes.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

/** RFC 9110 7.6.1 hop-by-hop headers, plus what the proxy sets itself. */
const dropToUpstream = new Set([
  "host",
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "content-length",
  "expect",
  // The agent's credential (either style) must never reach the provider.
  "authorization",
  "x-api-key",
  // The proxy reads usage from the body: no compression between upstream and proxy.
  "accept-encoding",
  "cookie",
]);

const dropToAgent = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "set-cookie",
]);

/** Names listed in a Connection header are hop-by-hop too. */
function connectionListed(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  // What nearly every request and response carries: nothing listed (no arrays or strings built per call).
  if (typeof value === "string" && /^\s*(keep-alive|close)\s*$/i.test(value)) return undefined;
  const raw = Array.isArray(value) ? value.join(",") : value;
  const names = raw
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0 && s !== "close" && s !== "keep-alive");
  return names.length === 0 ? undefined : new Set(names);
}

export type ProviderStyle = "openai" | "anthropic";

/** The headers sent upstream: the agent's, minus hop-by-hop and credentials, plus the provider key. */
export function upstreamHeaders(
  incoming: IncomingHttpHeaders,
  style: ProviderStyle,
  apiKey: string,
): Record<string, string | string[]> {
  const listed = connectionListed(incoming.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in incoming) {
    if (dropToUpstream.has(name) || listed?.has(name) || name.startsWith("x-killcord-")) continue;
    const value = incoming[name];
    if (value !== undefined) out[name] = value;
  }
  if (style === "anthropic") out["x-api-key"] = apiKey;
  else out.authorization = `Bearer ${apiKey}`;
  out["accept-encoding"] = "identity";
  return out;
}

/** The upstream's response headers as the agent receives them (undici gives lower-case names). */
export function agentHeaders(incoming: Record<string, string | string[] | undefined>): OutgoingHttpHeaders {
  const listed = connectionListed(incoming.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in incoming) {
    if (dropToAgent.has(name) || listed?.has(name)) continue;
    const value = incoming[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * The agent's credential: `Authorization: Bearer <credential>` (OpenAI style) or `x-api-key: <credential>`
 * (Anthropic style). Undefined when neither is present.
 */
export function presentedCredential(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === "string" && auth.length > 7 && auth.slice(0, 7).toLowerCase() === "bearer ") return auth.slice(7).trim();
  const key = headers["x-api-key"];
  if (typeof key === "string" && key.length > 0) return key.trim();
  return undefined;
}
