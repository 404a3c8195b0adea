// The indexer's HTTP API (on Ponder's server, beside /ready, /status, /health and /metrics) and its
// background work: the Redis mirror, the reconciler and the chain guard start here, once, with the server.

import { db, publicClients } from "ponder:api";
import schema from "ponder:schema";
import { Hono } from "hono";
import { and, asc, eq, graphql, gt, isNotNull } from "ponder";
import { startChainGuard } from "../../lib/chainGuard.ts";
import { resetAdvice, resolveDeployment } from "../../lib/chainIdentity.ts";
import { log } from "../../lib/log.ts";
import { createMirror, installMirror } from "../../lib/mirror.ts";
import { createReconciler } from "../../lib/reconciler.ts";
import { loadSettings, redactUrl } from "../../lib/settings.ts";
import { agentExpiryOf } from "../expiry.ts";
import { statusRoutes } from "./status.ts";

const settings = loadSettings();
const { identity, deployment } = await resolveDeployment(settings);

const mirror = installMirror(createMirror({ redisUrl: settings.redisUrl, timeoutMs: settings.redisTimeoutMs, identity }));
const reconciler = createReconciler({
  mirror,
  intervalMs: settings.reconcileIntervalMs,
  listDenied: (after, limit) =>
    db
      .select()
      .from(schema.agent)
      .where(
        after === undefined
          ? eq(schema.agent.state, "killed")
          : and(eq(schema.agent.state, "killed"), gt(schema.agent.agentId, after as `0x${string}`)),
      )
      .orderBy(asc(schema.agent.agentId))
      .limit(limit),
  listExpiring: async (after, limit) => {
    const expiring = and(eq(schema.agent.state, "active"), isNotNull(schema.agent.expiresAt));
    const rows = await db
      .select()
      .from(schema.agent)
      .where(after === undefined ? expiring : and(expiring, gt(schema.agent.agentId, after as `0x${string}`)))
      .orderBy(asc(schema.agent.agentId))
      .limit(limit);
    return rows.map(agentExpiryOf);
  },
});
reconciler.start();
const guard = startChainGuard({
  rpcUrl: settings.rpcUrl,
  identity,
  intervalMs: settings.chainCheckIntervalMs,
  advice: resetAdvice(settings, identity.chainId),
});
log.info(
  `mirroring chain ${identity.chainId} (registry ${deployment.registry}, from block ${deployment.deployBlock}) into Redis ${redactUrl(settings.redisUrl)}; reconciling every ${settings.reconcileIntervalMs} ms`,
);

const app = new Hono();
app.use("/graphql", graphql({ db, schema }));
app.route(
  "/",
  statusRoutes({
    db,
    chainId: identity.chainId,
    agentSchemaUid: deployment.agentSchemaUid,
    eas: deployment.eas,
    client: publicClients.chain,
    nowSeconds: () => {
      const wall = BigInt(Math.floor(Date.now() / 1000));
      const head = guard.headTimestamp();
      return head > wall ? head : wall;
    },
  }),
);

export default app;
