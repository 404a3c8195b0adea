import type { Command } from "../context.ts";
import { agentRegisterCommand, statusCommand } from "./agent.ts";
import { chainCommand, deployCommand } from "./chain.ts";
import { indexerCommand } from "./indexer.ts";
import { fleetKillCommand, guardianAddCommand, guardianRemoveCommand, killCommand, relayCommand, revokeCommand } from "./kill.ts";
import { operatorCommands } from "./operator.ts";
import { proxyCommand } from "./proxy.ts";

/** Every CLI command; multi-word names ("agent register") are matched on the leading positionals. */
export const commands: Command[] = [
  chainCommand,
  deployCommand,
  agentRegisterCommand,
  revokeCommand,
  relayCommand,
  killCommand,
  fleetKillCommand,
  guardianAddCommand,
  guardianRemoveCommand,
  statusCommand,
  proxyCommand,
  indexerCommand,
  ...operatorCommands,
];
