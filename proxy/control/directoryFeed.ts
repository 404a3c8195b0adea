/**
 * Keeps this instance's provider directory in step with changes made through any proxy instance sharing the
 * Postgres database: every committed change to an agent's connections is announced on `directoryChannel`
 * (applyChange in context.ts), and each announcement invalidates that agent here. Notifications sent while
 * the listener is disconnected are lost, so the whole cache is dropped when it listens again.
 *
 * While the listener is down, entries keep their long freshness and the cache is dropped at reconnect,
 * rather than falling back to short polling: every change goes through Postgres, so when Postgres is down
 * nothing can change, and keeping entries means agents already cached keep working through the outage
 * (short freshness would send every active agent to a database that does not answer). The case left is a
 * listener down while the pool still works; it reconnects within seconds (backoff up to 5 s), and the
 * directory's freshness (minutes) is the safety net if it cannot.
 */
import type { FastifyBaseLogger } from "fastify";
import type { Db } from "../db/index.ts";
import { directoryChannel, type ProviderDirectory } from "./providerDirectory.ts";

/**
 * Subscribes `directory` to change announcements when the store supports it (Postgres); resolves the
 * function that stops it, or undefined (PGlite: every change goes through this instance's control plane).
 * The database's close stops it too.
 */
export async function followDirectoryChanges(
  db: Db,
  directory: ProviderDirectory,
  log: FastifyBaseLogger,
): Promise<(() => Promise<void>) | undefined> {
  if (db.listen === undefined) return undefined;
  return await db.listen(directoryChannel, {
    onPayload: (agentId) => directory.invalidate(agentId),
    onGap: () => {
      directory.clear();
      log.info("provider directory listener back: cache cleared, connections reload from Postgres");
    },
    onDown: (error) =>
      log.warn(
        { err: { message: error.message } },
        "provider directory listener lost: changes made through other proxy instances are picked up when it is back",
      ),
  });
}
