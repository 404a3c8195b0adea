// The bench's local OpenAI-compatible upstream, run as its own process: `node bench/upstreamFixture.ts`.
// Answers every POST .../chat/completions with a fixed completion and usage report (or, when the request
// streams and asks to "hold", one SSE chunk and then nothing until the client leaves: for kill latency).
// Prints {"port": N} on stdout when listening.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const completion = JSON.stringify({
  id: "chatcmpl-bench",
  object: "chat.completion",
  created: 1,
  model: "gpt-4o-mini",
  choices: [{ index: 0, message: { role: "assistant", content: "Hello from the bench upstream." }, finish_reason: "stop" }],
  usage: { prompt_tokens: 12, completion_tokens: 8, total_tokens: 20 },
});
const completionLength = String(Buffer.byteLength(completion));

const server = createServer((req, res) => {
  let size = 0;
  let hold = false;
  req.on("data", (chunk: Buffer) => {
    size += chunk.length;
    // Only the kill-latency streams carry this marker; the load requests are never parsed.
    if (size < 4096 && chunk.includes('"hold"')) hold = true;
  });
  req.on("end", () => {
    if (hold) {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(
        `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", model: "gpt-4o-mini", choices: [{ index: 0, delta: { content: "Hel" } }] })}\n\n`,
      );
      return;
    }
    res.writeHead(200, { "content-type": "application/json", "content-length": completionLength });
    res.end(completion);
  });
});
server.keepAliveTimeout = 120_000;
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  console.log(JSON.stringify({ port: (server.address() as AddressInfo).port }));
});
process.on("SIGTERM", () => process.exit(0));
