/** `GET /metrics`: Prometheus text exposition of the data plane's registry. */
// For the `hide` schema keyword (keeps operational routes out of the OpenAPI document).
import type {} from "@fastify/swagger";
import type { FastifyPluginAsync } from "fastify";
import type { ProxyMetrics } from "./metrics.ts";

export const metricsRoute: FastifyPluginAsync<{ metrics: ProxyMetrics }> = async (app, { metrics }) => {
  app.get("/metrics", { schema: { hide: true } }, async (_request, reply) => {
    reply.header("content-type", metrics.registry.contentType).header("cache-control", "no-store");
    return metrics.registry.metrics();
  });
};
