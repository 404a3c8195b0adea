/**
 * A fixture LLM provider on a free port that counts what reaches it. It speaks enough of the OpenAI
 * (`POST <base>/chat/completions`) and Anthropic (`POST <base>/messages`) APIs for the official SDKs, with
 * fixed usage reports, streamed or not. A request whose last user message is "hold" holds the response open
 * until the client goes away (to test kills): streamed, after one chunk; not streamed, before any header.
 * A plain request whose last user message is "slow" is answered after 200 ms. Every request records the
 * credential headers it arrived with, so tests can check the provider key was swapped in.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const fixtureUsage = { prompt: 11, completion: 7 } as const;

export interface SeenRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  apiKey: string | undefined;
  body: any;
}

export interface FixtureUpstream {
  /** e.g. http://127.0.0.1:PORT/v1 (the base URL a provider connection points at). */
  baseUrl: string;
  origin: string;
  /** Requests that reached the upstream, in order. */
  seen: SeenRequest[];
  /** Requests whose client went away before the response ended (aborted streams). */
  readonly aborted: number;
  /** Streams currently held open. */
  readonly holding: number;
  reset(): void;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function lastUserText(body: any): string {
  const messages = Array.isArray(body?.messages) ? body.messages : [];
  const last = messages[messages.length - 1];
  return typeof last?.content === "string" ? last.content : "";
}

export async function startFixtureUpstream(options: { quiet?: boolean } = {}): Promise<FixtureUpstream> {
  const seen: SeenRequest[] = [];
  let aborted = 0;
  let holding = 0;
  const usage = { prompt_tokens: fixtureUsage.prompt, completion_tokens: fixtureUsage.completion, total_tokens: 18 };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const raw = await readBody(req);
    let body: any;
    try {
      body = raw === "" ? undefined : JSON.parse(raw);
    } catch {
      body = raw;
    }
    const path = req.url ?? "/";
    if (!options.quiet) {
      const auth = req.headers.authorization;
      const key = req.headers["x-api-key"];
      seen.push({
        method: req.method ?? "GET",
        path,
        authorization: auth,
        apiKey: typeof key === "string" ? key : undefined,
        body,
      });
    }
    res.on("close", () => {
      if (!res.writableFinished) aborted++;
    });
    const model = typeof body?.model === "string" ? body.model : "gpt-4o-mini";

    if (path.endsWith("/error")) {
      const presented = req.headers.authorization ?? String(req.headers["x-api-key"] ?? "");
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${presented.replace(/^Bearer /, "")}` } }));
      return;
    }

    if (path.endsWith("/chat/completions") && req.method === "POST") {
      if (body?.stream !== true && lastUserText(body) === "hold") {
        holding++;
        res.on("close", () => holding--);
        return;
      }
      if (body?.stream !== true && lastUserText(body) === "slow") await new Promise((r) => setTimeout(r, 200));
      if (body?.stream === true) {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        const chunk = (delta: object, extra: object = {}) =>
          `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model, choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`;
        res.write(chunk({ role: "assistant", content: "Hel" }));
        if (lastUserText(body) === "hold") {
          holding++;
          res.on("close", () => holding--);
          return;
        }
        res.write(chunk({ content: "lo" }));
        if (body.stream_options?.include_usage === true) {
          res.write(
            `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model, choices: [], usage })}\n\n`,
          );
        }
        res.end("data: [DONE]\n\n");
        return;
      }
      const reply = JSON.stringify({
        id: "c1",
        object: "chat.completion",
        created: 1,
        model,
        choices: [{ index: 0, message: { role: "assistant", content: "Hello" }, finish_reason: "stop" }],
        usage,
      });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(reply) });
      res.end(reply);
      return;
    }

    if (path.endsWith("/messages") && req.method === "POST") {
      const anthropicUsage = { input_tokens: fixtureUsage.prompt, output_tokens: fixtureUsage.completion };
      if (body?.stream === true) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        const event = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
        res.write(
          event("message_start", {
            message: { id: "m1", model, usage: { input_tokens: fixtureUsage.prompt, output_tokens: 1 } },
          }),
        );
        res.write(event("content_block_delta", { index: 0, delta: { type: "text_delta", text: "Hello" } }));
        res.write(
          event("message_delta", { delta: { stop_reason: "end_turn" }, usage: { output_tokens: fixtureUsage.completion } }),
        );
        res.end(event("message_stop", {}));
        return;
      }
      const reply = JSON.stringify({
        id: "m1",
        type: "message",
        model,
        content: [{ type: "text", text: "Hello" }],
        usage: anthropicUsage,
      });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(reply);
      return;
    }

    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { message: "fixture: no such route" } }));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    baseUrl: `${origin}/v1`,
    origin,
    seen,
    get aborted() {
      return aborted;
    },
    get holding() {
      return holding;
    },
    reset() {
      seen.length = 0;
      aborted = 0;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
