import { describe, expect, it } from "vitest";
import { agentHeaders, presentedCredential, upstreamHeaders } from "./headers.ts";

describe("headers between agent, proxy and provider", () => {
  it("sends the provider the agent's headers without credentials or hop-by-hop ones, with the provider key", () => {
    const incoming = {
      host: "proxy",
      connection: "keep-alive",
      authorization: "Bearer kc_agent",
      "x-api-key": "kc_agent",
      "content-type": "application/json",
      "content-length": "12",
      "accept-encoding": "gzip",
      "x-killcord-trace": "1",
      "openai-organization": "org-1",
    };
    expect(upstreamHeaders(incoming, "openai", "sk-provider")).toEqual({
      "content-type": "application/json",
      "openai-organization": "org-1",
      authorization: "Bearer sk-provider",
      "accept-encoding": "identity",
    });
    expect(upstreamHeaders(incoming, "anthropic", "sk-ant")).toMatchObject({ "x-api-key": "sk-ant" });
    expect(upstreamHeaders(incoming, "anthropic", "sk-ant").authorization).toBeUndefined();
  });

  it("drops the names a Connection header lists, whatever its case and spacing", () => {
    const incoming = { connection: " Keep-Alive, X-Hop ", "x-hop": "1", "x-end": "2" };
    expect(upstreamHeaders(incoming, "openai", "k")).toEqual({
      "x-end": "2",
      authorization: "Bearer k",
      "accept-encoding": "identity",
    });
    expect(agentHeaders({ connection: "close", "x-hop": "1", "content-type": "text/event-stream" })).toEqual({
      "x-hop": "1",
      "content-type": "text/event-stream",
    });
    expect(agentHeaders({ connection: "x-hop", "x-hop": "1", "transfer-encoding": "chunked", "set-cookie": ["a=1"] })).toEqual(
      {},
    );
  });

  it("reads the agent's credential in either style", () => {
    expect(presentedCredential({ authorization: "Bearer kc_1" })).toBe("kc_1");
    expect(presentedCredential({ authorization: "bearer  kc_2 " })).toBe("kc_2");
    expect(presentedCredential({ "x-api-key": "kc_3" })).toBe("kc_3");
    expect(presentedCredential({ authorization: "Basic abc" })).toBeUndefined();
    expect(presentedCredential({})).toBeUndefined();
  });
});
