import { readFileSync } from "node:fs";
import { type Address, getAddress, isAddress } from "viem";
import { parseSignedRevocation, relayRevocation, signRevocation } from "../../actions/delegatedRevocation.ts";
import { killAgent, killFleet, setGuardian } from "../../actions/killAgent.ts";
import { revokeAgent } from "../../actions/revokeAgent.ts";
import { requireWallet } from "../../lib/chain.ts";
import { CliError } from "../../lib/errors.ts";
import { type Command, type CommandContext, openFromEnv, requirePositional, stringFlag } from "../context.ts";

function parseAddress(value: string | undefined, what: string): Address {
  if (value === undefined || !isAddress(value, { strict: false }))
    throw new CliError("INVALID_ARGUMENT", `${what} must be an address, got ${JSON.stringify(value ?? "")}`);
  return getAddress(value);
}

export const revokeCommand: Command = {
  name: "revoke",
  needsWallet: true,
  usage: "killcord revoke <agentId|uid> [--sign-only [--deadline UNIX_SECONDS]]",
  summary:
    "revoke the agent's EAS attestation from the wallet (kills the agentId for good); --sign-only prints an EIP-712 delegated revocation instead",
  options: { "sign-only": { type: "boolean" }, deadline: { type: "string" } },
  async run(ctx) {
    const ref = requirePositional(ctx, 0, "<agentId|uid>");
    const kc = await openFromEnv(ctx);
    if (ctx.flags["sign-only"] === true) {
      const deadline = stringFlag(ctx, "deadline") ?? "0";
      if (!/^[0-9]+$/.test(deadline)) throw new CliError("INVALID_ARGUMENT", "--deadline must be unix seconds (0: none)");
      const signed = await signRevocation(kc, ref, BigInt(deadline));
      return {
        json: { ...signed },
        human: `${JSON.stringify(signed, null, 2)}\n\nAnyone can submit this with \`killcord relay <file>\`; it revokes ${signed.uid}.`,
      };
    }
    const revoked = await revokeAgent(kc, ref);
    return {
      json: { revoked: true, ...revoked },
      human: `revoked ${revoked.uid} (agentId ${revoked.agentId}) in tx ${revoked.txHash}, block ${revoked.blockNumber}`,
    };
  },
};

function readInput(ctx: CommandContext): string {
  const file = ctx.positionals[0];
  try {
    return readFileSync(file === undefined || file === "-" ? 0 : file, "utf8");
  } catch (cause) {
    throw new CliError("INVALID_ARGUMENT", `cannot read the signed revocation from ${file ?? "stdin"}`, { cause });
  }
}

export const relayCommand: Command = {
  name: "relay",
  needsWallet: true,
  usage: "killcord relay [FILE|-]",
  summary: "submit a delegated revocation (from `revoke --sign-only`) from this wallet",
  async run(ctx) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readInput(ctx));
    } catch (cause) {
      if (cause instanceof CliError) throw cause;
      throw new CliError("INVALID_SIGNATURE", "the signed revocation is not valid JSON", { cause });
    }
    const signed = parseSignedRevocation(parsed);
    const kc = await openFromEnv(ctx);
    const relayed = await relayRevocation(kc, signed);
    return {
      json: { relayed: true, ...relayed },
      human: `relayed the revocation of ${relayed.uid} signed by ${relayed.revoker}: tx ${relayed.txHash}, block ${relayed.blockNumber}`,
    };
  },
};

export const killCommand: Command = {
  name: "kill",
  needsWallet: true,
  usage: "killcord kill <agentId|uid> --reason R",
  summary: "kill an agent through the registry (operator or guardian); irreversible",
  options: { reason: { type: "string" } },
  async run(ctx) {
    const ref = requirePositional(ctx, 0, "<agentId|uid>");
    const reason = stringFlag(ctx, "reason");
    if (reason === undefined || reason.trim() === "") throw new CliError("INVALID_ARGUMENT", "missing --reason");
    const kc = await openFromEnv(ctx);
    const killed = await killAgent(kc, ref, reason);
    return {
      json: { killed: true, ...killed },
      human: `killed agent ${killed.agentId} (uid ${killed.uid}): "${reason}" in tx ${killed.txHash}, block ${killed.blockNumber}`,
    };
  },
};

export const fleetKillCommand: Command = {
  name: "fleet-kill",
  needsWallet: true,
  usage: "killcord fleet-kill [--operator ADDR] [--reason R]",
  summary: "kill every agent the operator (default: the wallet) attested up to this block",
  options: { operator: { type: "string" }, reason: { type: "string" } },
  async run(ctx) {
    const kc = await openFromEnv(ctx);
    const operatorFlag = stringFlag(ctx, "operator");
    const operator = operatorFlag === undefined ? requireWallet(kc).account.address : parseAddress(operatorFlag, "--operator");
    const result = await killFleet(kc, operator, stringFlag(ctx, "reason") ?? "fleet kill");
    return {
      json: { fleetKilled: true, ...result },
      human: `killed every agent of ${result.operator} attested up to block ${result.killedUpToBlock} (tx ${result.txHash})`,
    };
  },
};

function guardianCommand(appoint: boolean): Command {
  return {
    name: appoint ? "guardian add" : "guardian remove",
    needsWallet: true,
    usage: `killcord guardian ${appoint ? "add" : "remove"} ADDR`,
    summary: appoint ? "let ADDR kill the wallet's agents" : "stop ADDR from killing the wallet's agents",
    async run(ctx) {
      const guardian = parseAddress(ctx.positionals[0], "the guardian");
      const kc = await openFromEnv(ctx);
      const result = await setGuardian(kc, guardian, appoint);
      return {
        json: { ...result },
        human: `${appoint ? "appointed" : "removed"} guardian ${guardian} for ${result.operator} (tx ${result.txHash})`,
      };
    },
  };
}

export const guardianAddCommand = guardianCommand(true);
export const guardianRemoveCommand = guardianCommand(false);
