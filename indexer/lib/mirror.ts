/**
 * The indexer's Redis side: writes deny keys and kill-stream entries for agents the handlers just marked
 * killed, and each registered agent's expiry into the gate's flags (proxy/store/agentExpiry.ts). Redis is a
 * mirror, never the source of truth: a write that fails (Redis down, slow, failing over) is logged and left to
 * the reconciler, which re-asserts every denied agent (and every expiry) from the tables as soon as the
 * connection is back. So a handler never crashes the indexer and never waits on Redis longer than one command
 * timeout.
 */
import { Redis } from "ioredis";
import { type AgentExpiry, writeAgentExpiry } from "../../proxy/store/agentExpiry.ts";
import { denyAndAnnounce } from "../../proxy/store/denyKey.ts";
import { keys } from "../../proxy/store/keys.ts";
import { type ChainIdentity, checkRedisIdentity } from "./chainIdentity.ts";
import { type DeniedAgent, denyRecordOf } from "./denyRecord.ts";
import { log } from "./log.ts";
import { redactUrl } from "./settings.ts";

export interface MirrorOptions {
  redisUrl: string;
  /** Per-command timeout in milliseconds. */
  timeoutMs: number;
  /** The chain instance this indexer serves: a Redis holding another instance's keys is refused. */
  identity: ChainIdentity;
  /** What to do when Redis belongs to another chain instance. Default: log and exit the process. */
  onFatal?: (error: Error) => void;
}

export interface Mirror {
  readonly redis: Redis;
  /** True while connected to a Redis checked to hold this chain instance's keys. */
  readonly verified: boolean;
  /**
   * Denies the given (already marked killed) agents: deny key first, kill-stream entry only when the key
   * changed, so a replayed handler adds nothing. Returns how many keys changed; never throws.
   */
  deny(rows: readonly DeniedAgent[]): Promise<number>;
  /** Writes agents' expiries (an older attestation's never replaces a newer one's); never throws. */
  expire(rows: readonly AgentExpiry[]): Promise<void>;
  /**
   * Writes the denials and expiries that could not be written when they happened (Redis down or not yet
   * verified). They may belong to blocks whose rows are not committed yet, which the reconciler's table scan
   * would miss.
   * Throws when Redis fails; what was not written stays queued.
   */
  flushPending(): Promise<number>;
  /** Denials and expiries waiting for Redis. */
  readonly pending: number;
  /** Re-checks (and after a flush re-records) the chain identity in Redis; false when Redis is unreachable. */
  verify(): Promise<boolean>;
  /** Called after each (re)verification and after a failed write: the reconciler hooks in here. */
  onCatchUp(fn: () => void): void;
  close(): Promise<void>;
}

/** Denials kept in memory while Redis is away; past this the reconciler's table scan alone restores them. */
const maxPending = 100_000;

export function createMirror(options: MirrorOptions): Mirror {
  const where = redactUrl(options.redisUrl);
  const redis = new Redis(options.redisUrl, {
    connectionName: "killcord-indexer",
    // Fail fast while disconnected instead of queueing: the tables keep the truth and the reconciler replays
    // it on reconnect, so a queue would only delay handlers.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.timeoutMs,
    enableAutoPipelining: true,
    retryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
  });
  const fatal =
    options.onFatal ??
    ((error: Error) => {
      log.error(error.message);
      process.exit(1);
    });
  let verified = false;
  let outage = false;
  const pending = new Map<string, DeniedAgent>();
  const queue = (rows: readonly DeniedAgent[]) => {
    for (const row of rows) {
      if (pending.size >= maxPending) return;
      // The first denial of an agent wins, as in the deny key.
      if (!pending.has(row.agentId)) pending.set(row.agentId, row);
    }
  };
  const pendingExpiries = new Map<string, AgentExpiry>();
  const queueExpiries = (rows: readonly AgentExpiry[]) => {
    for (const row of rows) {
      const queued = pendingExpiries.get(row.agentId);
      // The latest attestation's expiry wins, as in Redis.
      if (queued !== undefined && BigInt(queued.block) > BigInt(row.block)) continue;
      if (queued === undefined && pendingExpiries.size >= maxPending) continue;
      pendingExpiries.set(row.agentId, row);
    }
  };

  /** Writes denials (add-only) and logs each key that changed. Throws when Redis fails. */
  const write = async (rows: readonly DeniedAgent[]): Promise<number> => {
    const results = await Promise.all(rows.map((row) => denyAndAnnounce(redis, row.agentId, denyRecordOf(row))));
    let changed = 0;
    results.forEach((result, i) => {
      const row = rows[i];
      if (!result.changed || row === undefined) return;
      changed += 1;
      const via = row.cause === null ? "" : ` via ${row.cause}`;
      log.info(`denied ${keys.deny(row.agentId)} (${row.how}${via}, block ${row.killBlock}, tx ${row.killTx})`);
    });
    return changed;
  };
  const catchUps: (() => void)[] = [];
  const catchUp = () => {
    for (const fn of catchUps) fn();
  };

  /**
   * Writes now when Redis is verified; otherwise, or when the write fails, queues the rows for the reconciler's
   * catch-up. Never throws; resolves to what the write returned (0 when queued).
   */
  const writeOrQueue = async <T>(
    rows: readonly T[],
    writeRows: (rows: readonly T[]) => Promise<number>,
    queueRows: (rows: readonly T[]) => void,
  ): Promise<number> => {
    if (rows.length === 0) return 0;
    if (!verified) {
      // Not connected (or not yet checked): written as soon as Redis is verified.
      queueRows(rows);
      catchUp();
      return 0;
    }
    try {
      return await writeRows(rows);
    } catch (error) {
      queueRows(rows);
      reportOutage(error);
      catchUp();
      return 0;
    }
  };

  const reportOutage = (error: unknown) => {
    if (outage) return;
    outage = true;
    const why = error instanceof Error ? error.message : String(error);
    log.warn(`Redis ${where} unavailable (${why}): deny keys stay in the tables and are re-asserted when it returns`);
  };

  const verify = async (): Promise<boolean> => {
    // Not connected: the "ready" handler verifies (and catches up) as soon as the connection is up.
    if (redis.status !== "ready") return false;
    try {
      const result = await checkRedisIdentity(redis, options.identity, { redisUrl: options.redisUrl });
      if (result === "recorded")
        log.info(`Redis ${where} now mirrors chain ${options.identity.chainId} (genesis ${options.identity.genesisHash})`);
      verified = true;
      return true;
    } catch (error) {
      if (error instanceof Error && "code" in error && error.code === "WRONG_CHAIN") {
        verified = false;
        fatal(error);
        return false;
      }
      reportOutage(error);
      return false;
    }
  };

  redis.on("error", reportOutage);
  redis.on("close", () => {
    verified = false;
  });
  redis.on("ready", async () => {
    if (await verify()) {
      if (outage) log.info(`Redis ${where} is back: re-asserting deny keys from the tables`);
      outage = false;
      catchUp();
    }
  });

  return {
    redis,
    get verified() {
      return verified;
    },
    get pending() {
      return pending.size + pendingExpiries.size;
    },
    deny: (rows) => writeOrQueue(rows, write, queue),
    async expire(rows) {
      await writeOrQueue(
        rows,
        async (r) => {
          await Promise.all(r.map((row) => writeAgentExpiry(redis, row)));
          return 0;
        },
        queueExpiries,
      );
    },
    async flushPending() {
      // Kills first: a failed expiry write must not hold them back.
      let changed = 0;
      if (pending.size > 0) {
        const rows = [...pending.values()];
        changed = await write(rows);
        for (const row of rows) pending.delete(row.agentId);
      }
      const expiries = [...pendingExpiries.values()];
      await Promise.all(expiries.map((row) => writeAgentExpiry(redis, row)));
      // Only what was written leaves the queue; a newer expiry queued meanwhile stays.
      for (const row of expiries) if (pendingExpiries.get(row.agentId) === row) pendingExpiries.delete(row.agentId);
      return changed;
    },
    verify,
    onCatchUp(fn) {
      catchUps.push(fn);
    },
    async close() {
      redis.disconnect();
    },
  };
}

const slot = globalThis as { __killcordMirror?: Mirror };

/** Installs the process's mirror (the API module does, at start); handlers reach it through `currentMirror`. */
export function installMirror(mirror: Mirror): Mirror {
  slot.__killcordMirror = mirror;
  return mirror;
}

/** The process's mirror, or undefined before it is installed (handlers then leave the work to the reconciler). */
export function currentMirror(): Mirror | undefined {
  return slot.__killcordMirror;
}
