import { readStatus } from "../../actions/readStatus.ts";
import { registerAgent } from "../../actions/registerAgent.ts";
import { CliError } from "../../lib/errors.ts";
import { type Command, openFromEnv, requirePositional, stringFlag } from "../context.ts";

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
  summary: "the verifier's answer, read from the chain",
  async run(ctx) {
    const ref = requirePositional(ctx, 0, "<agentId|uid>");
    const kc = await openFromEnv(ctx);
    const status = await readStatus(kc, ref);
    return {
      json: { ...status },
      human: [
        `${status.active ? "ACTIVE" : "INACTIVE"} (${status.status})`,
        `  agentId  ${status.agentId}`,
        `  uid      ${status.uid}`,
        `  operator ${status.operator}`,
        `  depth    ${status.depth}${status.depth > 0 ? ` (parent ${status.parent})` : ""}`,
        ...(status.killed ? ["  the agentId is killed for good: it can never be registered again"] : []),
        `  as of block ${status.blockNumber} on chain ${status.chainId}`,
      ].join("\n"),
    };
  },
};
