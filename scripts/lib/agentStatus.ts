/**
 * The verifier's reasons, in the order of the registry's `AgentStatus` enum (contracts/AgentSchema.sol).
 * The CLI, the indexer's status API and the proxy all speak these strings.
 */
export const agentStatuses = [
  "active",
  "unknown",
  "wrong-schema",
  "revoked",
  "expired",
  "killed",
  "fleet-killed",
  "superseded",
  "ancestor-inactive",
] as const;

export type AgentStatusName = (typeof agentStatuses)[number];

export function agentStatusName(index: number): AgentStatusName {
  const name = agentStatuses[index];
  if (name === undefined) throw new Error(`unknown AgentStatus ${index}`);
  return name;
}
