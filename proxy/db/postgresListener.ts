/**
 * Follows a Postgres NOTIFY channel on a connection of its own (LISTEN belongs to one session, so a pooled
 * client cannot hold it). The connection is kept forever: on error or end it reconnects with backoff, and
 * each time it listens again after an outage it calls `onGap`, because Postgres keeps no notifications for a
 * session that is gone. A periodic heartbeat (LISTEN again, a no-op on a live session) finds a connection
 * that died without a word (a half-open socket) instead of waiting out TCP timeouts.
 */
import pg from "pg";
import type { ListenHandlers } from "./index.ts";

export interface ListenerOptions {
  /** First reconnect delay, in milliseconds; doubles per failed attempt (with jitter). Default 100. */
  minBackoffMs?: number;
  /** Longest reconnect delay, in milliseconds. Default 5000. */
  maxBackoffMs?: number;
  /** How often the live connection is checked, in milliseconds. Default 30000. */
  heartbeatMs?: number;
  /** Deadline for connecting and for each check, in milliseconds. Default 5000. */
  timeoutMs?: number;
}

/** `application_name` of listener sessions (how an operator, or a test, finds them in pg_stat_activity). */
export const listenerApplicationName = "killcord-listener";

interface Live {
  client: pg.Client;
  drop(error: Error): void;
}

/**
 * Starts listening on `channel`. Resolves once the first attempt is done (connected or not: a failed first
 * attempt counts as an outage, so `onDown` is called and `onGap` follows the first success); resolves the
 * function that stops it for good.
 */
export async function listenPostgres(
  databaseUrl: string,
  channel: string,
  handlers: ListenHandlers,
  options: ListenerOptions = {},
): Promise<() => Promise<void>> {
  const minBackoffMs = options.minBackoffMs ?? 100;
  const maxBackoffMs = options.maxBackoffMs ?? 5_000;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const listenSql = `LISTEN ${pg.escapeIdentifier(channel)}`;
  let stopped = false;
  let down = false;
  let failures = 0;
  let live: Live | undefined;
  let attempt: Promise<void> | undefined;
  let retry: NodeJS.Timeout | undefined;

  const lost = (error: Error) => {
    if (stopped) return;
    if (!down) {
      down = true;
      handlers.onDown?.(error);
    }
    // Jittered so that many proxies do not all reconnect at the same instant after a Postgres restart.
    const delay = Math.min(minBackoffMs * 2 ** failures, maxBackoffMs) * (0.5 + Math.random() / 2);
    failures++;
    retry = setTimeout(() => {
      retry = undefined;
      attempt = connect();
    }, delay);
    retry.unref();
  };

  const connect = async (): Promise<void> => {
    const client = new pg.Client({
      connectionString: databaseUrl,
      connectionTimeoutMillis: timeoutMs,
      keepAlive: true,
      application_name: listenerApplicationName,
    });
    let dropped = false;
    const drop = (error: Error) => {
      if (dropped) return;
      dropped = true;
      if (live?.client === client) live = undefined;
      // Ends the session, or destroys the socket when a query hangs on it (pg's end() does that).
      client.end().catch(() => {});
      lost(error);
    };
    // Without these handlers a lost connection would be an unhandled 'error' event: a crash.
    client.on("error", drop);
    client.on("end", () => drop(new Error("the Postgres listener connection ended")));
    client.on("notification", (message) => {
      if (message.channel === channel) handlers.onPayload(message.payload ?? "");
    });
    try {
      await client.connect();
      await client.query(listenSql);
    } catch (error) {
      drop(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (dropped) return;
    if (stopped) {
      await client.end().catch(() => {});
      return;
    }
    live = { client, drop };
    failures = 0;
    if (down) {
      down = false;
      handlers.onGap();
    }
  };

  const heartbeat = setInterval(() => {
    const checked = live;
    if (checked === undefined) return;
    const deadline = setTimeout(() => checked.drop(new Error("the Postgres listener did not answer its heartbeat")), timeoutMs);
    checked.client.query(listenSql).then(
      () => clearTimeout(deadline),
      (error: Error) => {
        clearTimeout(deadline);
        checked.drop(error);
      },
    );
  }, options.heartbeatMs ?? 30_000);
  heartbeat.unref();

  attempt = connect();
  await attempt;

  return async () => {
    if (stopped) return;
    stopped = true;
    clearInterval(heartbeat);
    if (retry !== undefined) clearTimeout(retry);
    // An attempt under way sees `stopped` when it finishes and ends its own client.
    await attempt;
    const last = live;
    live = undefined;
    if (last !== undefined) await last.client.end().catch(() => {});
  };
}
