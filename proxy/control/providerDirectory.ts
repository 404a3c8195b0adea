/**
 * Where the data plane finds an agent's provider connection (upstream URL and decrypted provider key) on
 * every request. Entries are cached in memory: a hit is a Map lookup. The control plane calls `invalidate`
 * when it changes a connection and announces the change on `directoryChannel` (Postgres NOTIFY), so that
 * other proxy instances on the same database invalidate too (directoryFeed.ts); `ttlMs` bounds staleness
 * only as a safety net. The Tier 1 switch itself lives in Redis and takes effect everywhere at once.
 */
import { open, type SealedSecret } from "../crypto/secretBox.ts";
import type { Db } from "../db/index.ts";

export interface ProviderConnection {
  agentId: string;
  name: string;
  baseUrl: string;
  apiKey: string;
  enabled: boolean;
  style: "openai" | "anthropic";
}

export interface ProviderDirectory {
  get(agentId: string, name: string): Promise<ProviderConnection | undefined>;
  /** Drops the agent's entries; a load that started before cannot store what it read. */
  invalidate(agentId: string): void;
  /** Drops every entry (changes may have been missed); loads that started before cannot store. */
  clear(): void;
}

/** Postgres NOTIFY channel on which a committed change to an agent's connections is announced (payload: agentId). */
export const directoryChannel = "killcord_directory";

export interface ProviderDirectoryOptions {
  /** How long a cached entry (or a cached "no such connection") is served, in milliseconds. Default 5000. */
  ttlMs?: number;
  /** Most agents kept in the cache; the longest-cached is dropped past it. Default 100000. */
  maxAgents?: number;
  /** The clock, in milliseconds (tests). Default Date.now. */
  now?: () => number;
}

/** Associated data binding a sealed provider key to its row. */
export function providerKeyAad(agentId: string, name: string): string {
  return `killcord/provider-key/${agentId.toLowerCase()}/${name}`;
}

interface ProviderRow {
  agent_id: string;
  name: string;
  base_url: string;
  style: "openai" | "anthropic";
  key_ciphertext: Uint8Array;
  key_nonce: Uint8Array;
  key_version: number;
  enabled: boolean;
}

interface Entry {
  value: ProviderConnection | undefined;
  expiresAt: number;
}

/**
 * Builds the directory. `get` rejects when the store cannot be read (the caller fails closed); a missing
 * connection resolves to undefined and is cached like a found one.
 */
export function createProviderDirectory(db: Db, masterKey: Buffer, options: ProviderDirectoryOptions = {}): ProviderDirectory {
  const ttlMs = options.ttlMs ?? 5_000;
  const maxAgents = options.maxAgents ?? 100_000;
  const now = options.now ?? Date.now;
  /** agentId -> connection name -> entry. */
  const cache = new Map<string, Map<string, Entry>>();
  const loading = new Map<string, Promise<ProviderConnection | undefined>>();
  // Bumped by invalidate (per agent) and clear (all) so that a load which started before cannot store what it read.
  let generation = new Map<string, number>();
  let epoch = 0;

  async function load(agentId: string, name: string): Promise<ProviderConnection | undefined> {
    const { rows } = await db.query<ProviderRow>(
      `SELECT agent_id, name, base_url, style, key_ciphertext, key_nonce, key_version, enabled
         FROM provider_connections WHERE agent_id = $1 AND name = $2`,
      [agentId, name],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    const sealed: SealedSecret = {
      ciphertext: Buffer.from(row.key_ciphertext),
      nonce: Buffer.from(row.key_nonce),
      keyVersion: Number(row.key_version),
    };
    return Object.freeze({
      agentId: row.agent_id,
      name: row.name,
      baseUrl: row.base_url,
      apiKey: open(masterKey, sealed, providerKeyAad(row.agent_id, row.name)),
      enabled: row.enabled,
      style: row.style,
    });
  }

  function store(agentId: string, name: string, value: ProviderConnection | undefined): void {
    let names = cache.get(agentId);
    if (names === undefined) {
      if (cache.size >= maxAgents) {
        // Maps iterate in insertion order: the first agent is the one cached longest ago.
        const oldest = cache.keys().next().value;
        if (oldest !== undefined) cache.delete(oldest);
      }
      names = new Map();
      cache.set(agentId, names);
    }
    names.set(name, { value, expiresAt: now() + ttlMs });
  }

  return {
    get(rawAgentId, name) {
      const agentId = rawAgentId.toLowerCase();
      const hit = cache.get(agentId)?.get(name);
      if (hit !== undefined && hit.expiresAt > now()) return Promise.resolve(hit.value);
      const loadKey = `${agentId}\n${name}`;
      const pending = loading.get(loadKey);
      if (pending !== undefined) return pending;
      const startedAt = generation.get(agentId) ?? 0;
      const startedEpoch = epoch;
      const promise = load(agentId, name)
        .then((value) => {
          if (epoch === startedEpoch && (generation.get(agentId) ?? 0) === startedAt) store(agentId, name, value);
          return value;
        })
        .finally(() => {
          if (loading.get(loadKey) === promise) loading.delete(loadKey);
        });
      loading.set(loadKey, promise);
      return promise;
    },
    invalidate(rawAgentId) {
      const agentId = rawAgentId.toLowerCase();
      generation.set(agentId, (generation.get(agentId) ?? 0) + 1);
      cache.delete(agentId);
      // In-flight loads may have read the old row: later callers must start a fresh one.
      const prefix = `${agentId}\n`;
      for (const key of loading.keys()) if (key.startsWith(prefix)) loading.delete(key);
    },
    clear() {
      epoch++;
      // The epoch stops every older load, so per-agent generations can start over.
      generation = new Map();
      cache.clear();
      loading.clear();
    },
  };
}
