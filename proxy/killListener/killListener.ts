/**
 * Tails the kill stream on a dedicated Redis connection: at start it loads the whole (capped) stream into
 * the local deny set, then blocks on XREAD from the last entry it saw, so no kill falls in a gap between
 * the load and the tail. Each new entry denies the agent locally and aborts its in-flight requests and
 * streams on this instance. A lost connection is retried from the same entry id: nothing is skipped.
 */
import type { FastifyBaseLogger } from "fastify";
import type { Redis } from "ioredis";
import type { LocalDenySet } from "../gate/localDenySet.ts";
import type { DenyCode } from "../store/denyKey.ts";
import { keys } from "../store/keys.ts";
import type { InFlight } from "../upstream/inFlight.ts";

const denyCodes = new Set<string>(["AGENT_KILLED", "AGENT_SUSPENDED", "ATTESTATION_REVOKED"]);
const pageSize = 1000;
/** XREAD blocks at most this long, so a stop request is noticed even on a silent stream. */
const blockMs = 5000;

export interface KillListenerOptions {
  /** A connection of its own: XREAD BLOCK holds it. It is disconnected by stop(). */
  redis: Redis;
  localDeny: LocalDenySet;
  inFlight: InFlight;
  /** How long a suspension is held locally after its `at` (the deny key's default TTL). */
  suspendTtlMs: number;
  log: FastifyBaseLogger;
  /** Called for each applied entry (metrics). */
  onEntry?(agentId: string, code: DenyCode, aborted: number): void;
}

export interface KillListener {
  /** True once the stream was loaded up to its end at start. */
  readonly loaded: boolean;
  /** True while the tail connection works. */
  readonly healthy: boolean;
  /** Resolves after the initial load (or rejects if stopped first). */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

type StreamEntry = [id: string, fields: string[]];

function fieldsOf(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

export function startKillListener(options: KillListenerOptions): KillListener {
  const { redis, localDeny, inFlight, suspendTtlMs, log } = options;
  let stopped = false;
  let loaded = false;
  let healthy = false;
  let lastId = "0-0";
  let resolveReady!: () => void;
  let rejectReady!: (e: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => {});

  const apply = ([id, flat]: StreamEntry) => {
    lastId = id;
    const f = fieldsOf(flat);
    const agentId = f.agentId;
    if (agentId === undefined) return;
    // An unknown code or state still denies (fail closed): a kill stream entry is never an allow.
    const code = (
      denyCodes.has(f.code ?? "") ? f.code : f.state === "suspended" ? "AGENT_SUSPENDED" : "AGENT_KILLED"
    ) as DenyCode;
    const at = Number(f.at);
    const until = f.state === "suspended" && Number.isFinite(at) ? at + suspendTtlMs : Number.POSITIVE_INFINITY;
    localDeny.add(agentId, code, until);
    const aborted = until > Date.now() ? inFlight.abortAgent(agentId, code) : 0;
    // The start-up load replays history: log only live entries (and any load entry that cut a request).
    if (loaded || aborted > 0) log.info({ agentId, code, source: f.source, aborted, entry: id }, "kill stream: agent denied");
    options.onEntry?.(agentId, code, aborted);
  };

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

  const run = async () => {
    let failures = 0;
    while (!stopped) {
      try {
        if (!loaded) {
          // Exclusive ranges "(id" need Redis 6.2+.
          let start = "-";
          for (;;) {
            const page = (await redis.xrange(keys.killStream, start, "+", "COUNT", pageSize)) as StreamEntry[];
            for (const entry of page) apply(entry);
            if (page.length < pageSize) break;
            start = `(${lastId}`;
          }
          loaded = true;
          healthy = true;
          resolveReady();
          log.info({ denied: localDeny.size, lastId }, "kill stream loaded");
        }
        const reply = (await redis.xread("BLOCK", blockMs, "STREAMS", keys.killStream, lastId)) as
          | [string, StreamEntry[]][]
          | null;
        if (failures > 0) log.info("kill stream tail restored");
        failures = 0;
        healthy = true;
        if (reply === null) continue;
        for (const [, entries] of reply) for (const entry of entries) apply(entry);
      } catch (error) {
        if (stopped) break;
        healthy = false;
        if (failures === 0) log.warn({ err: error }, "kill stream tail lost; retrying");
        failures++;
        await sleep(Math.min(50 * 2 ** Math.min(failures, 5), 1000));
      }
    }
  };
  void run();

  return {
    get loaded() {
      return loaded;
    },
    get healthy() {
      return healthy && !stopped;
    },
    ready,
    async stop() {
      stopped = true;
      rejectReady(new Error("kill listener stopped"));
      redis.disconnect();
    },
  };
}
