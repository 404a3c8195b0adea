/**
 * The provider directory as the data plane reads it: stale-while-revalidate over the control plane's
 * directory. A connection is served from memory while fresh; once its `freshMs` is up, the next request
 * still gets it at once while one background load refreshes it; only past `freshMs + staleMs` (or on a
 * miss) does a request wait for the store. Without this, every cached agent expires on the same beat and
 * its next request queues behind a database round trip, which is what the latency tail is made of.
 *
 * Invalidation (the control plane calls it when it changes a connection) drops the agent's entries here and
 * in the inner directory, and a load that started before it cannot store what it read.
 */
import type { ProviderConnection, ProviderDirectory } from "../control/providerDirectory.ts";

interface Entry {
  value: Promise<ProviderConnection | undefined>;
  freshUntil: number;
  staleUntil: number;
  refreshing: boolean;
}

export interface RefreshingDirectoryOptions {
  /** How long an entry is served without a refresh, ms. */
  freshMs: number;
  /** How long past that a stale entry is still served while it refreshes, ms. */
  staleMs: number;
  /** Most agents kept; the oldest-cached is dropped past it. */
  maxAgents?: number;
  now?: () => number;
}

export function refreshingDirectory(inner: ProviderDirectory, options: RefreshingDirectoryOptions): ProviderDirectory {
  const now = options.now ?? Date.now;
  const maxAgents = options.maxAgents ?? 100_000;
  const cache = new Map<string, Map<string, Entry>>();
  const generation = new Map<string, number>();

  const store = (agentId: string, name: string, value: ProviderConnection | undefined, startedAt: number) => {
    if ((generation.get(agentId) ?? 0) !== startedAt) return;
    let names = cache.get(agentId);
    if (names === undefined) {
      if (cache.size >= maxAgents) cache.delete(cache.keys().next().value!);
      names = new Map();
      cache.set(agentId, names);
    }
    const at = now();
    names.set(name, {
      value: Promise.resolve(value),
      freshUntil: at + options.freshMs,
      staleUntil: at + options.freshMs + options.staleMs,
      refreshing: false,
    });
  };

  const load = (agentId: string, name: string): Promise<ProviderConnection | undefined> => {
    const startedAt = generation.get(agentId) ?? 0;
    const loading = inner.get(agentId, name);
    loading.then(
      (value) => store(agentId, name, value, startedAt),
      () => {
        const entry = cache.get(agentId)?.get(name);
        if (entry !== undefined) entry.refreshing = false;
      },
    );
    return loading;
  };

  return {
    get(rawAgentId, name) {
      const agentId = rawAgentId.toLowerCase();
      const entry = cache.get(agentId)?.get(name);
      if (entry !== undefined) {
        const at = now();
        if (at < entry.freshUntil) return entry.value;
        if (at < entry.staleUntil) {
          if (!entry.refreshing) {
            entry.refreshing = true;
            // Background refresh: its failure keeps the stale entry until staleUntil, then requests wait.
            load(agentId, name).catch(() => {});
          }
          return entry.value;
        }
      }
      return load(agentId, name);
    },
    invalidate(rawAgentId) {
      const agentId = rawAgentId.toLowerCase();
      generation.set(agentId, (generation.get(agentId) ?? 0) + 1);
      cache.delete(agentId);
      inner.invalidate(agentId);
    },
  };
}
