/**
 * The reconciler: re-asserts the deny key of every agent the tables hold as killed, so that Redis heals by
 * itself after a flush, a failover to an empty replica, or an outage during which handlers could not write.
 * Runs at start, every `intervalMs`, whenever the Redis connection comes back, and soon after a failed write.
 * Writes are add-only (`denyAndAnnounce`): an existing key is left alone and announces nothing; a restored one
 * is announced on the kill stream again, since whoever lost the key lost the stream too. It also re-asserts the
 * expiry of every active agent that has one (agentExpiry.ts: a write for an older attestation is ignored).
 */
import { type AgentExpiry, writeAgentExpiry } from "../../proxy/store/agentExpiry.ts";
import { denyAndAnnounce } from "../../proxy/store/denyKey.ts";
import { type DeniedAgent, denyRecordOf } from "./denyRecord.ts";
import { log } from "./log.ts";
import type { Mirror } from "./mirror.ts";

/** One page of killed agents, ordered by agentId, strictly after `after` (undefined: from the start). */
export type ListDenied = (after: string | undefined, limit: number) => Promise<DeniedAgent[]>;

/** One page of active agents that expire, ordered by agentId, strictly after `after`. */
export type ListExpiring = (after: string | undefined, limit: number) => Promise<AgentExpiry[]>;

export interface ReconcileResult {
  /** Killed agents found in the tables. */
  checked: number;
  /** Deny keys that were missing and were written again. */
  restored: number;
  /** Active agents whose expiry was re-asserted. */
  expiring: number;
}

export interface Reconciler {
  /** One full pass; throws when Redis fails midway (the caller retries). */
  run(): Promise<ReconcileResult>;
  /** Runs a pass soon (debounced), retrying with backoff until one completes. */
  request(): void;
  start(): void;
  stop(): void;
}

export interface ReconcilerOptions {
  mirror: Mirror;
  listDenied: ListDenied;
  listExpiring: ListExpiring;
  /** Period of the full pass, in milliseconds. */
  intervalMs: number;
  /** Agents per page (and per burst of Redis writes). Default 500. */
  pageSize?: number;
}

export function createReconciler(options: ReconcilerOptions): Reconciler {
  const { mirror, listDenied, listExpiring } = options;
  const pageSize = options.pageSize ?? 500;
  let timer: NodeJS.Timeout | undefined;
  let soon: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let again = false;
  let failures = 0;
  let stopped = true;

  /** Runs `fn` on every page of `list` (ordered by agentId); returns how many rows there were. */
  const eachPage = async <T extends { agentId: string }>(
    list: (after: string | undefined, limit: number) => Promise<T[]>,
    fn: (page: T[]) => Promise<void>,
  ): Promise<number> => {
    let count = 0;
    let after: string | undefined;
    for (;;) {
      const page = await list(after, pageSize);
      if (page.length === 0) break;
      await fn(page);
      count += page.length;
      after = page[page.length - 1]?.agentId;
      if (page.length < pageSize) break;
    }
    return count;
  };

  const run = async (): Promise<ReconcileResult> => {
    if (!(await mirror.verify())) throw new Error("Redis is not available");
    let restored = await mirror.flushPending();
    const checked = await eachPage(listDenied, async (page) => {
      const results = await Promise.all(page.map((row) => denyAndAnnounce(mirror.redis, row.agentId, denyRecordOf(row))));
      restored += results.filter((r) => r.changed).length;
    });
    if (restored > 0) log.info(`reconciler restored ${restored} missing deny key(s) of ${checked} killed agent(s)`);
    const expiring = await eachPage(listExpiring, async (page) => {
      await Promise.all(page.map((row) => writeAgentExpiry(mirror.redis, row)));
    });
    return { checked, restored, expiring };
  };

  const pass = async () => {
    if (running !== undefined) {
      again = true;
      return;
    }
    running = run()
      .then(() => {
        failures = 0;
      })
      .catch((error: unknown) => {
        failures += 1;
        if (failures === 1) log.warn(`reconciler pass failed (${error instanceof Error ? error.message : error}); retrying`);
        schedule(Math.min(250 * 2 ** failures, 10_000));
      })
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          schedule(0);
        }
      });
  };

  const schedule = (delayMs: number) => {
    if (stopped || soon !== undefined) return;
    soon = setTimeout(() => {
      soon = undefined;
      void pass();
    }, delayMs);
    soon.unref();
  };

  mirror.onCatchUp(() => schedule(100));

  return {
    run,
    request: () => schedule(100),
    start() {
      if (!stopped) return;
      stopped = false;
      timer = setInterval(() => void pass(), options.intervalMs);
      timer.unref();
      // Not connected yet: the mirror calls back (onCatchUp) once Redis is up and verified.
      if (mirror.verified) schedule(0);
    },
    stop() {
      stopped = true;
      clearInterval(timer);
      clearTimeout(soon);
      soon = undefined;
    },
  };
}
