/**
 * The provider directory as the data plane reads it: stale-while-revalidate over the control plane's
 * directory. A connection is served from memory while fresh; once its `freshMs` is up, the next request
 * still gets it at once while one background load refreshes it; only past `freshMs + staleMs` (or on a
 * miss) does a request wait for the store. Without this, every cached agent expires on the same beat and
 * its next request queues behind a database round trip, which is what the latency tail is made of.
 *
 * Invalidation (the control plane calls it when it changes a connection, and every instance does when such a
 * change is announced: directoryFeed.ts) drops the agent's entries here and in the inner directory, and a
 * load that started before it cannot store what it read; `clear` does the same for every agent.
 */
import type { ProviderConnection, ProviderDirectory } from "../control/providerDirectory.ts";

interface Entry {
  value: Promise<ProviderConnection | undefined>;
  freshUntil: number;
  staleUntil: number;
  refreshing: boolean;
}

export interface RefreshingDirectoryOptions {
  /** How long an entry is served without a refresh, ms (shortened per entry by `jitter`). */
  freshMs: number;
  /** How long past that a stale entry is still served while it refreshes, ms. */
  staleMs: number;
  /**
   * Fraction of `freshMs` drawn at random per entry: an entry stays fresh for freshMs × U(1 − jitter, 1), so
   * that entries loaded together (a burst of agents, a cache cleared) do not all refresh on the same beat.
   * From 0 to 1, default 0.
   */
  jitter?: number;
  /** Most agents kept; the oldest-cached is dropped past it. */
  maxAgents?: number;
  now?: () => number;
  /** Uniform in [0, 1) (tests). Default Math.random. */
  random?: () => number;
}

export function refreshingDirectory(inner: ProviderDirectory, options: RefreshingDirectoryOptions): ProviderDirectory {
  const now = options.now ?? Date.now;
  const maxAgents = options.maxAgents ?? 100_000;
  const jitter = Math.min(Math.max(options.jitter ?? 0, 0), 1);
  const random = options.random ?? Math.random;
  const cache = new Map<string, Map<string, Entry>>();
  // Bumped by invalidate (per agent) and clear (all): a load that started before either cannot store.
  let generation = new Map<string, number>();
  let epoch = 0;

  const store = (
    agentId: string,
    name: string,
    value: ProviderConnection | undefined,
    startedAt: number,
    startedEpoch: number,
  ) => {
    if (epoch !== startedEpoch || (generation.get(agentId) ?? 0) !== startedAt) return;
    let names = cache.get(agentId);
    if (names === undefined) {
      if (cache.size >= maxAgents) cache.delete(cache.keys().next().value!);
      names = new Map();
      cache.set(agentId, names);
    }
    const freshUntil = now() + options.freshMs * (1 - jitter * random());
    names.set(name, {
      value: Promise.resolve(value),
      freshUntil,
      staleUntil: freshUntil + options.staleMs,
      refreshing: false,
    });
  };

  const load = (agentId: string, name: string): Promise<ProviderConnection | undefined> => {
    const startedAt = generation.get(agentId) ?? 0;
    const startedEpoch = epoch;
    const loading = inner.get(agentId, name);
    loading.then(
      (value) => store(agentId, name, value, startedAt, startedEpoch),
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
    clear() {
      epoch++;
      // The epoch stops every older load, so per-agent generations can start over.
      generation = new Map();
      cache.clear();
      inner.clear();
    },
  };
}
