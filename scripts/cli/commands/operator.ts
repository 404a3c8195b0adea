/**
 * Operator commands against the proxy's control plane (`/v1`): sign in with the wallet, manage API keys,
 * link agents and issue their credentials, add provider connections, flip Tier 1/2, set guardrails.
 * The proxy URL comes from KILLCORD_PROXY_URL and the operator key from KILLCORD_OPERATOR_KEY; secrets
 * (operator key, provider key, wallet key) are read from the environment only, never from argv.
 */
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { CliError } from "../../lib/errors.ts";
import { type Command, type CommandContext, requirePositional, stringFlag } from "../context.ts";
import { operatorKeyFrom, ProxyApiError, proxyRequest, proxyUrlFrom, signIn } from "../proxyApi.ts";

function agentIdArg(ctx: CommandContext): string {
  const agentId = requirePositional(ctx, 0, "<agentId>");
  if (!/^0x[0-9a-fA-F]{64}$/.test(agentId))
    throw new CliError("INVALID_ARGUMENT", `<agentId> must be 32 bytes of 0x hex, got ${agentId}`);
  return agentId.toLowerCase();
}

function onOff(ctx: CommandContext, index: number): boolean {
  const value = requirePositional(ctx, index, "on|off");
  if (value !== "on" && value !== "off") throw new CliError("INVALID_ARGUMENT", `expected on or off, got ${value}`);
  return value === "on";
}

function api(ctx: CommandContext, method: string, path: string, body?: unknown) {
  return proxyRequest(proxyUrlFrom(ctx.env), operatorKeyFrom(ctx.env), method, path, body);
}

function positiveInt(ctx: CommandContext, flag: string): number | undefined {
  const value = stringFlag(ctx, flag);
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]*$/.test(value)) throw new CliError("INVALID_ARGUMENT", `--${flag} must be a positive whole number`);
  return Number(value);
}

export const loginCommand: Command = {
  name: "login",
  usage: "killcord login",
  summary: "sign in to the proxy with the wallet (SIWE); prints an owner operatorKey",
  async run(ctx) {
    const proxyUrl = proxyUrlFrom(ctx.env);
    const privateKey = ctx.env.KILLCORD_PRIVATE_KEY;
    if (privateKey === undefined || privateKey === "") {
      throw new CliError("MISSING_WALLET", "set KILLCORD_PRIVATE_KEY to the operator wallet's key");
    }
    const hex = (privateKey.startsWith("0x") ? privateKey : `0x${privateKey}`) as Hex;
    if (!/^0x[0-9a-fA-F]{64}$/.test(hex))
      throw new CliError("MISSING_WALLET", "KILLCORD_PRIVATE_KEY must be a 32-byte hex private key");
    const expected = ctx.env.KILLCORD_CHAIN_ID;
    if (expected !== undefined && expected !== "" && !/^[0-9]+$/.test(expected)) {
      throw new CliError("INVALID_ARGUMENT", "KILLCORD_CHAIN_ID must be a number");
    }
    ctx.progress(`signing in to ${proxyUrl}...`);
    const login = await signIn(proxyUrl, privateKeyToAccount(hex), {
      expectedChainId: expected === undefined || expected === "" ? undefined : Number(expected),
    });
    return {
      json: { ...login },
      human: [
        `signed in as ${login.operator} (owner key ${login.keyId}); the key is shown once:`,
        "",
        `export KILLCORD_OPERATOR_KEY=${login.operatorKey}`,
      ].join("\n"),
    };
  },
};

export const keysCreateCommand: Command = {
  name: "keys create",
  usage: "killcord keys create --role admin|viewer [--label L]",
  summary: "create an admin (changes agents) or viewer (reads) operator key; owners only",
  options: { role: { type: "string" }, label: { type: "string" } },
  async run(ctx) {
    const role = stringFlag(ctx, "role");
    if (role !== "admin" && role !== "viewer") throw new CliError("INVALID_ARGUMENT", "--role must be admin or viewer");
    const label = stringFlag(ctx, "label");
    const created = await api(ctx, "POST", "/v1/keys", { role, ...(label === undefined ? {} : { label }) });
    return {
      json: created,
      human: [`${role} key ${created.id}; shown once:`, "", created.key].join("\n"),
    };
  },
};

export const agentAddCommand: Command = {
  name: "agent add",
  usage: "killcord agent add <agentId> [--name N] [--label L]",
  summary: "link an onchain agent to the proxy (if not yet) and issue it a credential (shown once)",
  options: { name: { type: "string" }, label: { type: "string" } },
  async run(ctx) {
    const agentId = agentIdArg(ctx);
    const name = stringFlag(ctx, "name");
    const label = stringFlag(ctx, "label");
    let linked = true;
    try {
      await api(ctx, "POST", "/v1/agents", { agentId, ...(name === undefined ? {} : { name }) });
    } catch (error) {
      // Adding a credential to an agent linked earlier is the same command.
      if (!(error instanceof ProxyApiError && error.apiCode === "AGENT_ALREADY_LINKED")) throw error;
      linked = false;
    }
    const issued = await api(ctx, "POST", `/v1/agents/${agentId}/credentials`, label === undefined ? {} : { label });
    return {
      json: { agentId, linked, credentialId: issued.id, issuedAt: issued.issuedAt, credential: issued.credential },
      human: [
        linked ? `linked agent ${agentId}` : `agent ${agentId} was already linked`,
        `credential ${issued.id}; shown once (give it to the agent as its API key):`,
        "",
        issued.credential,
      ].join("\n"),
    };
  },
};

export const providerAddCommand: Command = {
  name: "provider add",
  usage: "killcord provider add <agentId> --name openai --base-url URL --api-key-env VAR [--style openai|anthropic] [--disabled]",
  summary: "add a provider connection; the provider key is read from the environment variable VAR",
  options: {
    name: { type: "string" },
    "base-url": { type: "string" },
    "api-key-env": { type: "string" },
    style: { type: "string" },
    disabled: { type: "boolean" },
  },
  async run(ctx) {
    const agentId = agentIdArg(ctx);
    const name = stringFlag(ctx, "name");
    const baseUrl = stringFlag(ctx, "base-url");
    const keyVar = stringFlag(ctx, "api-key-env");
    if (name === undefined) throw new CliError("INVALID_ARGUMENT", "missing --name");
    if (baseUrl === undefined) throw new CliError("INVALID_ARGUMENT", "missing --base-url");
    if (keyVar === undefined)
      throw new CliError("INVALID_ARGUMENT", "missing --api-key-env (the name of the variable holding the key)");
    const apiKey = ctx.env[keyVar];
    if (apiKey === undefined || apiKey === "")
      throw new CliError("INVALID_ARGUMENT", `the environment variable ${keyVar} is empty or unset`);
    const style = stringFlag(ctx, "style");
    if (style !== undefined && style !== "openai" && style !== "anthropic") {
      throw new CliError("INVALID_ARGUMENT", "--style must be openai or anthropic");
    }
    const added = await api(ctx, "POST", `/v1/agents/${agentId}/providers`, {
      name,
      baseUrl,
      apiKey,
      ...(style === undefined ? {} : { style }),
      enabled: ctx.flags.disabled !== true,
    });
    return {
      json: { agentId, ...added },
      human: `added ${added.name} -> ${added.baseUrl} (${added.style}, key …${added.key.last4}, ${added.enabled ? "enabled" : "disabled"}) for ${agentId}\nthe agent calls <proxy>/${added.name}/<path>`,
    };
  },
};

export const tier1Command: Command = {
  name: "tier1",
  usage: "killcord tier1 <agentId> <provider> on|off [--reason R]",
  summary: "Tier 1: enable or disable one provider for the agent",
  options: { reason: { type: "string" } },
  async run(ctx) {
    const agentId = agentIdArg(ctx);
    const provider = requirePositional(ctx, 1, "<provider>");
    const enabled = onOff(ctx, 2);
    const reason = stringFlag(ctx, "reason");
    const result = await api(ctx, "PUT", `/v1/agents/${agentId}/providers/${encodeURIComponent(provider)}/enabled`, {
      enabled,
      ...(reason === undefined ? {} : { reason }),
    });
    return { json: result, human: `Tier 1: ${provider} ${enabled ? "enabled" : "disabled"} for ${agentId}` };
  },
};

export const tier2Command: Command = {
  name: "tier2",
  usage: "killcord tier2 <agentId> on|off [--reason R]",
  summary: "Tier 2: enable or disable every call of the agent",
  options: { reason: { type: "string" } },
  async run(ctx) {
    const agentId = agentIdArg(ctx);
    const enabled = onOff(ctx, 1);
    const reason = stringFlag(ctx, "reason");
    const result = await api(ctx, "PUT", `/v1/agents/${agentId}/enabled`, {
      enabled,
      ...(reason === undefined ? {} : { reason }),
    });
    return { json: result, human: `Tier 2: agent ${agentId} ${enabled ? "enabled" : "disabled"}` };
  },
};

export const guardrailSetCommand: Command = {
  name: "guardrail set",
  usage: "killcord guardrail set <agentId> [--provider P] [--rpm N] [--rpd N] [--usd-per-day X] [--action tier1|tier2]",
  summary: "set the guardrail of the agent (or of one provider): replaces its limits; a breach trips the action's tier",
  options: {
    provider: { type: "string" },
    rpm: { type: "string" },
    rpd: { type: "string" },
    "usd-per-day": { type: "string" },
    action: { type: "string" },
  },
  async run(ctx) {
    const agentId = agentIdArg(ctx);
    const provider = stringFlag(ctx, "provider");
    const rpm = positiveInt(ctx, "rpm");
    const rpd = positiveInt(ctx, "rpd");
    const usdText = stringFlag(ctx, "usd-per-day");
    if (usdText !== undefined && !/^[0-9]+(\.[0-9]+)?$/.test(usdText))
      throw new CliError("INVALID_ARGUMENT", "--usd-per-day must be a number");
    const usdPerDay = usdText === undefined ? undefined : Number(usdText);
    const action = stringFlag(ctx, "action");
    if (action !== undefined && action !== "tier1" && action !== "tier2")
      throw new CliError("INVALID_ARGUMENT", "--action must be tier1 or tier2");
    if (rpm === undefined && rpd === undefined && usdPerDay === undefined) {
      throw new CliError("INVALID_ARGUMENT", "give at least one of --rpm, --rpd, --usd-per-day");
    }
    const result = await api(ctx, "PUT", `/v1/agents/${agentId}/guardrails`, {
      ...(provider === undefined ? {} : { provider }),
      ...(rpm === undefined ? {} : { rpm }),
      ...(rpd === undefined ? {} : { rpd }),
      ...(usdPerDay === undefined ? {} : { usdPerDay }),
      ...(action === undefined ? {} : { action }),
    });
    const limits = [
      result.rpm === null ? undefined : `${result.rpm}/min`,
      result.rpd === null ? undefined : `${result.rpd}/day`,
      result.usdPerDay === null ? undefined : `$${result.usdPerDay}/day`,
    ].filter((l) => l !== undefined);
    return {
      json: result,
      human: `guardrail for ${result.provider ?? "every provider"} of ${agentId}: ${limits.join(", ")}; a breach trips ${result.action}`,
    };
  },
};

/** The proxy's view of an agent for `killcord status`, when KILLCORD_PROXY_URL and KILLCORD_OPERATOR_KEY are set. */
export async function proxyView(ctx: CommandContext, agentId: string): Promise<Record<string, any> | undefined> {
  const url = ctx.env.KILLCORD_PROXY_URL;
  const key = ctx.env.KILLCORD_OPERATOR_KEY;
  if (url === undefined || url === "" || key === undefined || key === "") return undefined;
  return await proxyRequest(proxyUrlFrom(ctx.env), key, "GET", `/v1/agents/${agentId.toLowerCase()}`);
}

/** Human lines for the proxy's view of an agent. */
export function describeProxyView(view: Record<string, any>): string[] {
  const gate = view.gate ?? {};
  const lines = [
    "proxy:",
    `  Tier 2    ${gate.agentEnabled ? "enabled" : "DISABLED"}${view.enabled === gate.agentEnabled ? "" : ` (stored: ${view.enabled ? "enabled" : "disabled"})`}`,
  ];
  if (gate.deny) lines.push(`  denied    ${gate.deny.state} (${gate.deny.code}): ${gate.deny.reason}`);
  if (typeof gate.expiresAt === "number") {
    const at = new Date(gate.expiresAt).toISOString();
    lines.push(`  expires   ${at}${gate.expiresAt <= Date.now() ? " (EXPIRED: calls are denied)" : ""}`);
  }
  for (const [field, why] of Object.entries(gate.tripped ?? {})) lines.push(`  tripped   ${field}: ${JSON.stringify(why)}`);
  for (const p of view.providers ?? []) {
    const usage = gate.usage?.[p.name];
    lines.push(
      `  provider  ${p.name} -> ${p.baseUrl} (${gate.providers?.[p.name] ? "enabled" : "DISABLED"}, key …${p.key.last4}${
        usage === undefined ? "" : `, today ${usage.requestsToday} req $${usage.usdToday}`
      })`,
    );
  }
  for (const g of view.guardrails ?? []) {
    const limits = [
      g.rpm === null ? "" : `${g.rpm}/min`,
      g.rpd === null ? "" : `${g.rpd}/day`,
      g.usdPerDay === null ? "" : `$${g.usdPerDay}/day`,
    ]
      .filter((x) => x !== "")
      .join(", ");
    lines.push(`  guardrail ${g.provider ?? "*"}: ${limits} -> ${g.action}`);
  }
  const live = (view.credentials ?? []).filter((c: any) => c.revokedAt === null).length;
  lines.push(`  credentials ${live} live of ${(view.credentials ?? []).length}`);
  return lines;
}

export const operatorCommands: Command[] = [
  loginCommand,
  keysCreateCommand,
  agentAddCommand,
  providerAddCommand,
  tier1Command,
  tier2Command,
  guardrailSetCommand,
];
