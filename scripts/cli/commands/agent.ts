import { readStatus } from "../../actions/readStatus.ts";
import { registerAgent } from "../../actions/registerAgent.ts";
import { CliError } from "../../lib/errors.ts";
import { type Command, openFromEnv, requirePositional, stringFlag } from "../context.ts";
import { ProxyApiError } from "../proxyApi.ts";
import { describeProxyView, proxyView } from "./operator.ts";

export const agentRegisterCommand: Command = {
  name: "agent register",
  needsWallet: true,
  usage: "killcord agent register --name N [--signer ADDR] [--parent UID] [--agent-id ID] [--expires UNIX_SECONDS]",
  summary: "attest an agent (or a delegated sub-agent with --parent) from the wallet",
  options: {
    name: { type: "string" },
    signer: { type: "string" },
    parent: { type: "string" },
    "agent-id": { type: "string" },
    expires: { type: "string" },
  },
  async run(ctx) {
    const name = stringFlag(ctx, "name");
    if (name === undefined) throw new CliError("INVALID_ARGUMENT", "missing --name");
    const expires = stringFlag(ctx, "expires");
    if (expires !== undefined && !/^[0-9]+$/.test(expires)) {
      throw new CliError("INVALID_ARGUMENT", "--expires must be unix seconds");
    }
    const kc = await openFromEnv(ctx);
    const agent = await registerAgent(kc, {
      name,
      signer: stringFlag(ctx, "signer"),
      parent: stringFlag(ctx, "parent"),
      agentId: stringFlag(ctx, "agent-id"),
      expirationTime: expires === undefined ? undefined : BigInt(expires),
    });
    return {
      json: { ...agent },
      human: [
        `registered agent "${agent.name}"`,
        `  agentId ${agent.agentId}`,
        `  uid     ${agent.uid}`,
        ...(agent.parent === `0x${"0".repeat(64)}` ? [] : [`  parent  ${agent.parent}`]),
        `  tx      ${agent.txHash} (block ${agent.blockNumber})`,
      ].join("\n"),
    };
  },
};

export const statusCommand: Command = {
  name: "status",
  usage: "killcord status <agentId|uid>",
  summary: "the verifier's answer, read from the chain (and the proxy's view with KILLCORD_PROXY_URL + KILLCORD_OPERATOR_KEY)",
  async run(ctx) {
    const ref = requirePositional(ctx, 0, "<agentId|uid>");
    const kc = await openFromEnv(ctx);
    const status = await readStatus(kc, ref);
    // The proxy's view is extra: its failure is reported beside the chain's answer, not instead of it.
    let proxy: Record<string, any> | undefined;
    let proxyError: { code: string; message: string } | undefined;
    try {
      proxy = await proxyView(ctx, status.agentId);
    } catch (error) {
      proxyError =
        error instanceof ProxyApiError
          ? { code: error.apiCode, message: error.message }
          : {
              code: error instanceof CliError ? error.code : "INTERNAL",
              message: error instanceof Error ? error.message : String(error),
            };
    }
    return {
      json: { ...status, ...(proxy === undefined ? {} : { proxy }), ...(proxyError === undefined ? {} : { proxyError }) },
      human: [
        `${status.active ? "ACTIVE" : "INACTIVE"} (${status.status})`,
        `  agentId  ${status.agentId}`,
        `  uid      ${status.uid}`,
        `  operator ${status.operator}`,
        `  depth    ${status.depth}${status.depth > 0 ? ` (parent ${status.parent})` : ""}`,
        ...(status.killed ? ["  the agentId is killed for good: it can never be registered again"] : []),
        `  as of block ${status.blockNumber} on chain ${status.chainId}`,
        ...(proxy === undefined ? [] : describeProxyView(proxy)),
        ...(proxyError === undefined ? [] : [`proxy: unavailable (${proxyError.code}): ${proxyError.message}`]),
      ].join("\n"),
    };
  },
};
