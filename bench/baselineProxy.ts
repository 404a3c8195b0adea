// Baseline (b) of the proxy bench, run as its own process: the barest fastify + undici passthrough, with no
// checks at all. `UPSTREAM=http://127.0.0.1:P/v1 node bench/baselineProxy.ts` forwards /openai/<path> to
// UPSTREAM/<path> over a keep-alive pool and streams the answer back. Prints {"port": N} when listening.
import fastify from "fastify";
import { Agent } from "undici";

const upstream = new URL(process.env.UPSTREAM ?? "http://127.0.0.1:8080/v1");
const basePath = upstream.pathname.replace(/\/+$/, "");
const dispatcher = new Agent({ connections: 128, keepAliveTimeout: 30_000 });
const hopByHop = new Set(["host", "connection", "keep-alive", "transfer-encoding", "content-length", "authorization"]);

const app = fastify({ logger: false });
app.removeAllContentTypeParsers();
app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
app.all("/openai/*", async (request, reply) => {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.headers))
    if (value !== undefined && !hopByHop.has(name)) headers[name] = value;
  headers.authorization = "Bearer sk-bench-provider";
  const response = await dispatcher.request({
    origin: upstream.origin,
    path: basePath + request.url.slice("/openai".length),
    method: request.method as "POST",
    headers,
    body: request.body as Buffer | undefined,
  });
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(response.headers)) if (value !== undefined && !hopByHop.has(name)) out[name] = value;
  if (response.headers["content-length"] !== undefined) out["content-length"] = response.headers["content-length"];
  reply.code(response.statusCode).headers(out);
  return reply.send(response.body);
});
await app.listen({ host: "127.0.0.1", port: Number(process.env.PORT ?? 0) });
const address = app.server.address();
console.log(JSON.stringify({ port: typeof address === "object" && address !== null ? address.port : 0 }));
process.on("SIGTERM", () => process.exit(0));
